"""The Store Protocol: one project's data — files, chunks, code graph, lexical and vector search,
usage and feedback — shaped by what indexing and retrieval ask, not by one database.

Retrieval hands a store weighted terms, query vectors, limits and a `SearchFilters` record;
each backend answers in its own engine (SQLite: FTS5 and a brute-force scan of the vector
matrix, `index/sqlite.py`; PostgreSQL: full text and pgvector). The narrow Protocols below are
what each consumer needs; `Store` is all of them, and `tests/contract/test_store.py` is the
suite every implementation passes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from prism.index.terms import ChunkTerms, chunk_terms
from prism.index.usage import UsageEvent
from prism.models import PRICED_LEVELS, Chunk, ChunkHead, LevelTokens, SearchFilters, StoredChunk

# The chunk columns every SQL backend selects (chunks `c` joined with files `f`), and the record
# built from such a row: the two stores keep one table shape, so they share one reader.
CHUNK_COLUMNS = (
    "c.id, c.path, c.language, c.kind, c.name, c.qualified_name, c.signature, c.docstring, "
    "c.start_line, c.end_line, c.content, c.content_hash, c.tokens, c.parent, c.defines, "
    "c.imports, c.calls, f.sha256, f.indexed_at, c.level_tokens, c.level_texts"
)


def level_tokens_text(levels: LevelTokens | None) -> str | None:
    """The `level_tokens` column: "TOKENIZER N N N N" (PRICED_LEVELS order), NULL when unpriced."""
    if levels is None:
        return None
    return " ".join((levels.tokenizer, *map(str, levels.counts)))


def parse_level_tokens(text: str | None, texts: str | None = None) -> LevelTokens | None:
    """The column read back (with `level_texts`, kept undecoded: only a shown chunk needs it);
    None for NULL (rows written before pricing) or an unreadable value."""
    if not text:
        return None
    name, *counts = text.split(" ")
    if len(counts) != len(PRICED_LEVELS) or not all(c.isdigit() for c in counts):
        return None  # not ours to trust: the pack prices such a chunk from its text
    return LevelTokens(name, tuple(map(int, counts)), texts or None)


def row_to_chunk(row: Sequence[Any]) -> StoredChunk:
    """A StoredChunk from a row of CHUNK_COLUMNS (defines/imports/calls are JSON lists)."""
    (cid, path, language, kind, name, qname, sig, doc, start, end, content, chash, tokens,
     parent, defines, imports, calls, fsha, indexed_at, levels, texts) = tuple(row)
    chunk = Chunk(
        path=path, language=language, kind=kind, name=name, qualified_name=qname, signature=sig,
        docstring=doc, start_line=start, end_line=end, content=content, content_hash=chash,
        tokens=tokens, defines=tuple(json.loads(defines)), imports=tuple(json.loads(imports)),
        calls=tuple(json.loads(calls)), parent=parent, level_tokens=parse_level_tokens(levels, texts),
    )
    return StoredChunk(id=int(cid), chunk=chunk, file_sha256=fsha, indexed_at=float(indexed_at))


# The ChunkHead columns, in its field order: all but `tokens` come before the content in the
# row, and nothing needs decoding, so a head costs a fraction of a full chunk.
HEAD_COLUMNS = ("c.id, c.path, c.language, c.kind, c.name, c.qualified_name, c.start_line, "
                "c.end_line, c.tokens, f.indexed_at")


def row_to_head(row: Sequence[Any]) -> ChunkHead:
    """A ChunkHead from a row of HEAD_COLUMNS."""
    cid, path, language, kind, name, qname, start, end, tokens, indexed_at = tuple(row)
    return ChunkHead(int(cid), path, language, kind, name, qname, start, end, tokens, float(indexed_at))


if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# (term, weight): the term counts `weight` times in the BM25 sum (a small positive integer).
WeightedTerm = tuple[str, int]
RefKind = str  # defines | imports | calls


@dataclass(frozen=True)
class FileState:
    """What the index knows about one file, to decide whether it must be re-read."""

    path: str
    sha256: str
    size: int
    mtime: float
    indexed_at: float


@dataclass(frozen=True)
class FileRecord:
    path: str
    sha256: str
    size: int
    mtime: float
    language: str | None
    warnings: tuple[str, ...] = ()


# The text hash of a chunk that will get a vector but whose embedding text is not yet hashed:
# sync leaves it to the embedding pass (Indexer.hash_texts), so a lexical index never builds
# the texts a model would read. Not a hex digest, so no vector is ever stored under it.
UNHASHED = "-"


@dataclass(frozen=True)
class IndexedFile:
    """One file's new state: its record, its chunks and each chunk's embedding-text hash
    ("" for a chunk that gets no vector: never pending, never embedded); `terms`, when given,
    each chunk's `terms.chunk_terms` (computed in the parse workers, off the one writer)."""

    record: FileRecord
    chunks: tuple[Chunk, ...]
    text_hashes: tuple[str, ...]
    terms: tuple[ChunkTerms, ...] | None = None

    def chunk_terms(self) -> Iterator[ChunkTerms]:
        """Each chunk's full-text columns, in chunk order."""
        if self.terms is not None:
            yield from self.terms
        else:
            yield from map(chunk_terms, self.chunks)


class ChunkReader(Protocol):
    """Chunks by id, by file and by handle."""

    def get_chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        """Chunks by id, in the order asked (unknown ids are left out)."""
        ...

    def get_heads(self, ids: Sequence[int]) -> list[ChunkHead]:
        """What ranking reads of chunks by id, in the order asked (unknown ids are left out):
        equal to `[sc.head for sc in get_chunks(ids)]`, at a fraction of the cost."""
        ...

    def chunks_in_file(self, path: str) -> list[StoredChunk]:
        """A file's chunks by start line."""
        ...

    def heads_in_file(self, path: str) -> list[ChunkHead]:
        """A file's chunk heads by start line (`chunks_in_file`, ranking columns only)."""
        ...

    def iter_chunks(self, batch: int = 2000) -> Iterator[StoredChunk]:
        """Every chunk, in id order (for rebuilds and exports)."""
        ...

    def chunk_ids_by_hash_prefix(self, prefix: str, limit: int = 5) -> list[int]:
        """Ids of chunks whose content hash starts with `prefix` (a `prism show` handle)."""
        ...

    def file_tokens(self, paths: Sequence[str]) -> dict[str, int]:
        """Tokens of each indexed file: the sum of its chunks' token counts."""
        ...

    def filter_ids(self, ids: Iterable[int], filters: SearchFilters) -> set[int]:
        """Those of `ids` whose chunks pass the filters (min_score is not the store's)."""
        ...


class CodeGraph(Protocol):
    """Who defines, imports and calls which name."""

    def find_refs(self, names: Iterable[str], kind: RefKind = "defines", *,
                  most: int | None = None) -> list[tuple[int, str]]:
        """(chunk id, name) of chunks that define/import/call any of the names; with `most`,
        only of the names that at most `most` chunks define/import/call."""
        ...

    def refs_of(self, chunk_ids: Sequence[int], kind: RefKind) -> list[tuple[int, str]]:
        """(chunk id, name) of what the given chunks define/import/call."""
        ...


class LexicalIndex(Protocol):
    """BM25 over PRISM's identifier-aware terms (`index/terms.py`)."""

    def lexical(self, terms: Sequence[WeightedTerm], limit: int, filters: SearchFilters | None = None,
                require: Sequence[str] = ()) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) best first for chunks holding any of the terms.

        With `require`, only chunks holding at least one of those terms are scored; their
        scores are the same as without it.
        """
        ...

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each term (for IDF); terms in no chunk are left out."""
        ...

    def count_chunks(self) -> int:
        """How many chunks the index holds."""
        ...

    def rank_files(self, terms: Sequence[str], limit: int) -> dict[str, int]:
        """Files by their best chunk under BM25 of the terms (weight 1 each), best first, among
        the top `limit` chunks, each with its tokens: the whole-file baseline of `context`."""
        ...


class VectorIndex(Protocol):
    """Chunk vectors of one embedding model, keyed by the hash of the text embedded."""

    def nearest(self, model: str, queries: NDArray[np.float32], limit: int,
                filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) best first: each chunk's best similarity to any row of
        `queries` (unit vectors); with filters, `limit` results among the chunks that pass."""
        ...

    def pending_embeddings(self, model: str, limit: int) -> list[tuple[str, int]]:
        """(text hash, one chunk id with that text) for texts without a vector yet (hash "" excluded;
        an UNHASHED chunk is pending under that hash)."""
        ...

    def count_pending_embeddings(self, model: str) -> int:
        """Distinct texts without a vector, each UNHASHED chunk counted as one."""
        ...

    def unhashed_chunks(self, limit: int) -> list[int]:
        """Ids of up to `limit` chunks whose text hash is UNHASHED (not yet computed), in id order."""
        ...

    def set_text_hashes(self, items: Sequence[tuple[int, str]]) -> None:
        """Record (chunk id, text hash) pairs, in one transaction."""
        ...

    def chunk_text_hashes(self) -> list[tuple[int, str]]:
        """(chunk id, hash of its embedded text) of every chunk meant to have a vector (hash ""
        excluded), in id order: which vector is whose, without reading the chunks."""
        ...

    def put_embeddings(self, model: str, items: Sequence[tuple[str, NDArray[np.float32]]]) -> None:
        """Store vectors by text hash, in one transaction."""
        ...

    def drop_embeddings(self, keep_model: str | None = None) -> None:
        """Remove vectors of every model but keep_model (the index never mixes two models)."""
        ...

    def prune_embeddings(self, model: str) -> int:
        """Delete vectors no chunk uses any more; returns how many. Nothing while a chunk is
        UNHASHED: its text, not yet hashed, may be one of them (a lexical re-index keeps them)."""
        ...

    def maintain_vectors(self, model: str, *, wait: bool = False) -> None:
        """After an index run: bring the store's own vector index up to date (in the background
        unless `wait`); a no-op where the database keeps its index itself."""
        ...


class IndexWriter(Protocol):
    """Files, metadata and the generation counter; each write method is one transaction."""

    def generation(self) -> int:
        """A counter bumped by every write: caches keyed on it are never stale."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, values: dict[str, str]) -> None: ...

    def file_states(self) -> dict[str, FileState]: ...

    def file_state(self, path: str) -> FileState | None: ...

    def write_files(self, files: Sequence[IndexedFile]) -> None:
        """Replace each file's chunks, refs, terms — all of the batch or none of it."""
        ...

    def touch_files(self, states: Sequence[tuple[str, int, float]]) -> None:
        """New (path, size, mtime) for files whose content did not change."""
        ...

    def delete_files(self, paths: Sequence[str]) -> None: ...

    def stats(self) -> dict[str, object]:
        """files, chunks, tokens, languages, last_indexed, partial_files."""
        ...


class UsageLog(Protocol):
    """What `prism context` served and saved, for `prism stats`."""

    def record_usage(self, event: UsageEvent, at: float | None = None) -> bool:
        """Record one event (at `at`, default now); False (and a log line) when it could not be — never raises:
        usage is bookkeeping, and an answer must not fail because it was not counted."""
        ...

    def usage_summary(self, since: float | None = None) -> dict[str, object]:
        """queries, tokens_served, tokens_saved, mean_ms, last_at, by_intent."""
        ...


class FeedbackLog(Protocol):
    """Results users marked helpful or not, keyed by path and symbol (they survive re-indexing)."""

    def record_feedback(self, path: str, symbol: str, helpful: bool, query: str = "") -> None: ...

    def feedback_marks(self, paths: Iterable[str]) -> dict[tuple[str, str], int]:
        """(path, symbol) → helpful minus unhelpful marks, for results in the given files."""
        ...


@dataclass(frozen=True)
class FeedbackMark:
    """One recorded feedback mark (+1 helpful, -1 not), as `export_history` gives it."""

    path: str
    symbol: str
    helpful: int
    query: str
    created_at: float


@dataclass(frozen=True)
class History:
    """A project's usage log (unix time, event) and feedback marks, oldest first."""

    usage: list[tuple[float, UsageEvent]]
    feedback: list[FeedbackMark]


USAGE_COLUMNS = "at, kind, intent, budget, tokens_served, tokens_saved, chunks, seconds"


def usage_row(row: Sequence[Any]) -> tuple[float, UsageEvent]:
    """A usage log row (USAGE_COLUMNS) as (unix time, event)."""
    return float(row[0]), UsageEvent(str(row[1]), str(row[2]), int(row[3]), int(row[4]), int(row[5]), int(row[6]),
                                     float(row[7]))


class IndexExport(Protocol):
    """The index as `write_files` and `put_embeddings` take it, and its history: what `prism migrate` copies."""

    def export_files(self) -> Iterator[IndexedFile]:
        """Every file with its chunks (in the order they were written) and their text hashes."""
        ...

    def export_embeddings(self, model: str, batch: int = 1000) -> Iterator[list[tuple[str, NDArray[np.float32]]]]:
        """Every vector of `model`, as batches of (text hash, vector)."""
        ...

    def export_history(self) -> History:
        """The usage log and feedback marks, with their times."""
        ...

    def import_history(self, history: History) -> None:
        """Add a history another store exported (times kept), in one transaction."""
        ...


class Store(ChunkReader, CodeGraph, LexicalIndex, VectorIndex, IndexWriter, UsageLog, FeedbackLog,
            IndexExport, Protocol):
    """One project's data in one backend."""

    def backup(self, dest: Path) -> None:
        """Write a consistent copy of the project's data into the folder `dest`."""
        ...

    def restore(self, source: Path) -> None:
        """Replace the project's data with a copy `backup` wrote to `source`."""
        ...

    def forget(self) -> None:
        """Delete all of the project's data; the store is closed afterwards."""
        ...

    def close(self) -> None:
        """Release connections; closing twice, or after forget, does nothing."""
        ...
