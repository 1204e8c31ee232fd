"""Index reads the pack stage needs: chunks by handle, file sizes in tokens, lexical file ranking."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from prism.index.terms import lexical_terms


def chunk_ids_by_hash_prefix(conn: sqlite3.Connection, prefix: str, limit: int = 5) -> list[int]:
    """Ids of chunks whose content hash starts with `prefix` (a `prism show` handle)."""
    clean = "".join(ch for ch in prefix.lower() if ch in "0123456789abcdef")
    if len(clean) < 6:
        return []
    upper = clean[:-1] + chr(ord(clean[-1]) + 1)
    rows = conn.execute("SELECT id FROM chunks WHERE content_hash >= ? AND content_hash < ?"
                        " ORDER BY id LIMIT ?", (clean, upper, limit))
    return [int(r[0]) for r in rows]


def file_tokens(conn: sqlite3.Connection, paths: Sequence[str]) -> dict[str, int]:
    """Tokens of each file, as the sum of its indexed chunks' token counts."""
    out: dict[str, int] = {}
    wanted = sorted(set(paths))
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        rows = conn.execute(
            f"SELECT path, SUM(tokens) FROM chunks WHERE path IN ({','.join('?' * len(part))})"
            " GROUP BY path", part)
        out.update({str(p): int(t) for p, t in rows})
    return out


def fts_query(text: str, max_terms: int = 64) -> str:
    """An FTS5 OR-expression of the distinct lexical terms of free text ("" if none)."""
    seen: list[str] = []
    for term in lexical_terms(text):
        if len(term) > 1 and term not in seen:
            seen.append(term)
        if len(seen) >= max_terms:
            break
    return " OR ".join(f'"{t}"' for t in seen)
