"""The chunk-embedding cache: vectors computed for one project are reused by the others.

Worktrees, branches and checkouts of one repository share most of their code; vectors
computed for one are reused by the others instead of running the model again. Embedded, the
cache is one SQLite file under the PRISM home, shared by every project on the machine; with
PRISM_DATABASE_URL it is a table in that database (`embed_cache_postgres`), shared by every
host and worker on it. `open_embedding_cache` picks the one the settings call for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from prism.index.sqlite_db import copy_database, open_database, transaction
from prism.settings_view import SettingsView

FILE = "embeddings.db"  # under the PRISM home

_SCHEMA = ("CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, text_hash TEXT NOT NULL,"
           " vector BLOB NOT NULL, PRIMARY KEY (model, text_hash)) WITHOUT ROWID")


class ChunkVectorCache(Protocol):
    """(model, text_hash) → vector, for texts embedded before by any project sharing the cache."""

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors kept for those of `hashes` that are known (a miss is left out)."""
        ...

    def put(self, model: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Keep (text_hash, vector) pairs; a hash already kept keeps its vector."""
        ...

    def close(self) -> None:
        ...


def open_embedding_cache(settings: SettingsView) -> ChunkVectorCache | None:
    """The cache these settings call for: the database's table with PRISM_DATABASE_URL, else the
    home's SQLite file; None when `shared_embedding_cache` is off."""
    if not settings.shared_embedding_cache:
        return None
    if settings.database_url is not None:
        from prism.index.embed_cache_postgres import PostgresEmbeddingCache

        return PostgresEmbeddingCache(settings.database_url.get_secret_value())
    return EmbeddingCache(settings.home / FILE)


class EmbeddingCache:
    """(model, text_hash) → vector, in its own SQLite file (WAL, safe across processes)."""

    def __init__(self, path: Path) -> None:
        self._conn = open_database(path, [(1, _SCHEMA)])

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            part = list(hashes[start:start + 500])
            rows = self._conn.execute(
                f"SELECT text_hash, vector FROM vectors WHERE model=? AND text_hash IN"
                f" ({','.join('?' * len(part))})", (model, *part))
            for text_hash, blob in rows:
                found[str(text_hash)] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, model: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        with transaction(self._conn) as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO vectors(model, text_hash, vector) VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items])

    def backup(self, target: Path) -> None:
        """A consistent copy in the file `target`, taken while others write."""
        copy_database(self._conn, target)

    def close(self) -> None:
        self._conn.close()
