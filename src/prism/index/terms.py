"""Identifier-aware lexical terms: split camelCase/snake_case/paths into the words BM25 indexes.

The same function turns chunks into full-text documents at index time and queries into
terms at search time, so both sides always agree.
"""

from __future__ import annotations

import re
from functools import lru_cache

from prism.models import Chunk

ChunkTerms = tuple[str, str, str, str]

# The words terms are made of (their definition; terms_text finds the same ones by a faster road).
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
# Splits "HTTPServerError2x" → HTTP, Server, Error, 2, x; "snake_case" handled by '_' split first.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def split_identifier(word: str) -> list[str]:
    """Lower-cased parts of one identifier: 'parseHTTPResponse_v2' → ['parse', 'http', 'response', 'v2']."""
    return list(_split(word))


@lru_cache(maxsize=262_144)
def _split(word: str) -> tuple[str, ...]:
    parts: list[str] = []
    for piece in word.split("_"):
        if not piece:
            continue
        sub = _CAMEL.findall(piece)
        # Keep letter+digit suffixes together ("v2", "utf8") so versions stay searchable.
        merged: list[str] = []
        for s in sub:
            if s.isdigit() and merged and not merged[-1].isdigit():
                merged[-1] += s
            else:
                merged.append(s)
        parts.extend(m.lower() for m in merged)
    return tuple(parts)


@lru_cache(maxsize=262_144)
def _expand(word: str) -> tuple[str, ...]:
    """An identifier's terms: its parts, then the compound when there are several."""
    parts = _split(word)
    return (*parts, "".join(parts)) if len(parts) > 1 else parts


def lexical_terms(text: str) -> list[str]:
    """Terms of free text or code: every identifier's parts, plus the whole identifier when it has several.

    'get_user_name' → ['get', 'user', 'name', 'getusername']; the compound keeps exact
    identifier matches ranking above documents that merely share the words.
    """
    return terms_text(text).split()


# Bytes of identifier characters kept, every other byte (all of UTF-8's multi-byte
# characters included) a space: the runs left are what _WORD finds, digit runs still attached.
_IDENTIFIER_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_RUNS = bytes(byte if byte in _IDENTIFIER_BYTES else 0x20 for byte in range(256))
_DIGITS = "0123456789"


def terms_text(text: str) -> str:
    """lexical_terms joined by spaces: the form stored in the full-text index."""
    # A byte table and split() find _WORD's matches several times faster than the regex
    # (indexing runs this on every chunk); each run's terms are joined once per distinct run.
    runs = text.encode("utf-8", errors="surrogatepass").translate(_RUNS).decode("ascii").split()
    return " ".join(filter(None, map(_run_text, runs)))


@lru_cache(maxsize=262_144)
def _run_text(run: str) -> str:
    """Terms of one run of identifier characters, joined ("" for one of no parts, such as "_").

    _WORD reads a run led by digits as the digits, then an identifier: "2x" is "2" and "x"."""
    word = run.lstrip(_DIGITS)
    if len(word) == len(run):
        return " ".join(_expand(run))
    digits = run[:len(run) - len(word)]
    rest = " ".join(_expand(word)) if word else ""
    return f"{digits} {rest}" if rest else digits


def chunk_terms(chunk: Chunk, path_terms: str | None = None) -> ChunkTerms:
    """A chunk's four full-text columns (path, symbol, doc, body), as every store indexes them.
    `path_terms`: `terms_text(chunk.path)` when the caller has it (the same for a file's chunks)."""
    return (terms_text(chunk.path) if path_terms is None else path_terms,
            terms_text(f"{chunk.qualified_name} {chunk.signature}"),
            terms_text(chunk.docstring), terms_text(chunk.content))
