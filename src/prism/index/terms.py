"""Identifier-aware lexical terms: split camelCase/snake_case/paths into the words BM25 indexes.

The same function turns chunks into full-text documents at index time and queries into
terms at search time, so both sides always agree.
"""

from __future__ import annotations

import re
from functools import lru_cache

from prism.models import Chunk

ChunkTerms = tuple[str, str, str, str]

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
    terms: list[str] = []
    for word in _WORD.findall(text):
        terms.extend(_expand(word))
    return terms


def terms_text(text: str) -> str:
    """lexical_terms joined by spaces: the form stored in the full-text index."""
    return " ".join(lexical_terms(text))


def chunk_terms(chunk: Chunk) -> ChunkTerms:
    """A chunk's four full-text columns (path, symbol, doc, body), as every store indexes them."""
    return (terms_text(chunk.path), terms_text(f"{chunk.qualified_name} {chunk.signature}"),
            terms_text(chunk.docstring), terms_text(chunk.content))
