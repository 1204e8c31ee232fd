"""The chunk-embedding cache in PostgreSQL: one table every host, worker and project on a database shares.

With PRISM_DATABASE_URL set the indexes live in PostgreSQL and their workers run on several
hosts; a per-host SQLite cache would make each host embed again what another already embedded
(a branch, fork or re-created project of the same code). The cache follows the store into the
database rather than into Redis: a text's vector under a model never changes and costs a
model run to remake, so it is durable bulk data (1.5 KiB per 384-dim chunk, millions of rows
on disk, not in Redis's memory with a TTL), read and written a batch at a time, one round trip each.

Vectors are float32 bytes (`bytea`), not pgvector: the table is only looked up by key, never
searched, and bytes come back bit for bit without formatting or parsing text. The table has its
own schema version (`prism_embed_cache_schema`) and migration lock, so it migrates on its own,
beside the index's tables, through the same `migrate`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from prism.index.postgres import check_url, migrate, open_pool, prism_errors, redacted

SCHEMA_TABLE = "prism_embed_cache_schema"
SCHEMA_LOCK = 0x5052_4543  # pg_advisory_xact_lock key while migrating ("PREC")
MIGRATIONS: list[tuple[int, str]] = [(1, """
CREATE TABLE IF NOT EXISTS prism_embedding_cache (
    model TEXT NOT NULL, text_hash TEXT NOT NULL, vector BYTEA NOT NULL,
    PRIMARY KEY (model, text_hash));
""")]
BATCH = 1000  # hashes per lookup: one `= ANY` array a query


class PostgresEmbeddingCache:
    """(model, text_hash) → vector in PostgreSQL; connects on first use, so a run with nothing to embed costs nothing.

    Built from a URL it opens (and closes) a small pool of its own; built from a pool (a server
    sharing one between its parts) it leaves the pool to its owner.
    """

    def __init__(self, source: str | ConnectionPool[psycopg.Connection[Any]], *, max_size: int = 2) -> None:
        self._lock = threading.Lock()
        self._max_size = max_size
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._url = ""
        if isinstance(source, str):
            check_url(source)  # a malformed URL fails here, an unreachable server on first use
            self._url = source
            self._where = redacted(source)
        else:
            self._where = source.name or "PostgreSQL"
            self._pool = self._migrated(source)
        self._owns_pool = isinstance(source, str)

    def _migrated(self, pool: ConnectionPool[psycopg.Connection[Any]]) -> ConnectionPool[psycopg.Connection[Any]]:
        migrate(pool, f"{self._where} (embedding cache)", MIGRATIONS, table=SCHEMA_TABLE, lock=SCHEMA_LOCK)
        return pool

    def _connected(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._pool is None:
                pool = open_pool(self._url, max_size=self._max_size)
                try:
                    self._pool = self._migrated(pool)
                except BaseException:
                    pool.close()
                    raise
            return self._pool

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        if not hashes:
            return found
        pool = self._connected()
        with prism_errors(self._where), pool.connection() as conn:
            for start in range(0, len(hashes), BATCH):
                rows = conn.execute("SELECT text_hash, vector FROM prism_embedding_cache"
                                    " WHERE model = %s AND text_hash = ANY(%s)",
                                    (model, list(hashes[start:start + BATCH]))).fetchall()
                for text_hash, blob in rows:
                    found[str(text_hash)] = np.frombuffer(bytes(blob), dtype=np.float32)
        return found

    def put(self, model: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Keep each vector; one already kept under its hash stays (the same text gives the same vector)."""
        if not items:
            return
        pool = self._connected()
        with prism_errors(self._where), pool.connection() as conn:
            conn.execute("INSERT INTO prism_embedding_cache(model, text_hash, vector)"
                         " SELECT %s, h, v FROM unnest(%s::text[], %s::bytea[]) AS t(h, v)"
                         " ON CONFLICT (model, text_hash) DO NOTHING",
                         (model, [h for h, _ in items],
                          [np.asarray(v, dtype=np.float32).tobytes() for _, v in items]))

    def close(self) -> None:
        with self._lock:
            if self._owns_pool and self._pool is not None and not self._pool.closed:
                self._pool.close()
            self._pool = None
