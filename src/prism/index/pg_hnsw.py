"""pgvector's HNSW index for PostgresStore: its build parameters, the rebuild of an index built with
others, and the plan a filtered vector query takes by the filter's estimated selectivity.

Measured at 100 k–500 k real-ish MiniLM vectors in benchmarks/results/pg_search.md.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from psycopg import sql

from prism.errors import ConfigError

if TYPE_CHECKING:
    from prism.settings_view import SettingsView

log = logging.getLogger("prism.index")

EF_SEARCH_MAX = 1000  # pgvector's most for hnsw.ef_search
PGVECTOR_DEFAULTS = {"m": 16, "ef_construction": 64}  # what an index built without WITH (…) has
REBUILD_LOCK = 0x5052_4948  # session advisory lock while one replica rebuilds an index ("PRIH")

Plan = Literal["exact", "index"]


@dataclass(frozen=True)
class HnswConfig:
    """How PostgresStore builds and searches its HNSW indexes (settings PRISM_PG_HNSW_*)."""

    m: int = 32
    ef_construction: int = 128
    ef_search: int = 1000
    build_memory: str = "2GB"  # maintenance_work_mem of the session that builds: the graph must fit
    build_workers: int | None = None  # max_parallel_maintenance_workers of that session; None: the server's
    exact_rows: int = 20_000  # a filter estimated to pass at most this many rows is searched exactly
    overfetch: float = 2.0  # index candidates: this many times limit / selectivity

    def __post_init__(self) -> None:
        if self.ef_construction < 2 * self.m:  # pgvector refuses to build such an index
            raise ConfigError(f"HNSW ef_construction {self.ef_construction} is below twice m ({self.m}).",
                              hint="Set PRISM_PG_HNSW_EF_CONSTRUCTION to at least 2 × PRISM_PG_HNSW_M.")

    @classmethod
    def from_settings(cls, settings: SettingsView) -> HnswConfig:
        return cls(m=settings.pg_hnsw_m, ef_construction=settings.pg_hnsw_ef_construction,
                   ef_search=settings.pg_hnsw_ef_search, build_memory=settings.pg_build_memory,
                   build_workers=settings.pg_build_workers)

    def options(self) -> dict[str, int]:
        return {"m": self.m, "ef_construction": self.ef_construction}


def index_name(dim: int) -> str:
    return f"prism_embeddings_hnsw_{dim}"


def create_sql(name: str, dim: int, config: HnswConfig, *, concurrently: bool = False) -> sql.Composed:
    """CREATE INDEX of one dimension's partial expression index with the configured graph parameters."""
    return sql.SQL(
        "CREATE INDEX {}IF NOT EXISTS {} ON prism_embeddings USING hnsw ((vector::vector({})) vector_cosine_ops)"
        " WITH (m = {}, ef_construction = {}) WHERE dim = {}").format(
        sql.SQL("CONCURRENTLY " if concurrently else ""), sql.Identifier(name), sql.Literal(dim),
        sql.Literal(config.m), sql.Literal(config.ef_construction), sql.Literal(dim))


def build_settings(conn: psycopg.Connection[Any], config: HnswConfig, *, local: bool) -> None:
    """The build's memory and parallel workers for this transaction (`local`) or session."""
    scope = sql.SQL("SET LOCAL " if local else "SET ")
    conn.execute(scope + sql.SQL("maintenance_work_mem = {}").format(sql.Literal(config.build_memory)))
    if config.build_workers is not None:
        conn.execute(scope + sql.SQL("max_parallel_maintenance_workers = {}").format(
            sql.Literal(config.build_workers)))


def built_options(conn: psycopg.Connection[Any]) -> dict[int, dict[str, int]]:
    """Every valid HNSW index of prism_embeddings by dimension, with the m and ef_construction it was built with."""
    rows = conn.execute(
        "SELECT c.relname, c.reloptions FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'prism_embeddings'::regclass AND i.indisvalid"
        " AND c.relname ~ '^prism_embeddings_hnsw_[0-9]+$'"
    ).fetchall()
    out: dict[int, dict[str, int]] = {}
    for name, reloptions in rows:
        options = dict(PGVECTOR_DEFAULTS)
        for item in reloptions or []:
            key, _, value = str(item).partition("=")
            if key in options:
                options[key] = int(value)
        out[int(str(name).rsplit("_", 1)[1])] = options
    return out


def rebuild_stale(conn: psycopg.Connection[Any], config: HnswConfig, dims: Collection[int]) -> list[int]:
    """Rebuild the indexes of `dims` whose graph parameters differ from `config`, without blocking
    searches or writes.

    `conn` is an autocommit connection (CREATE INDEX CONCURRENTLY runs outside a transaction). The new
    index is built beside the old one, then swapped in one short transaction; one replica at a time
    (an advisory lock; another finds it taken and returns). A build killed halfway leaves an invalid
    `…_rebuild` index, dropped by the next attempt. Returns the dimensions rebuilt.
    """
    stale = sorted(dim for dim, options in built_options(conn).items() if dim in dims and options != config.options())
    if not stale:
        return []
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (REBUILD_LOCK,)).fetchone()
    if not row or not row[0]:
        return []
    done: list[int] = []
    try:
        build_settings(conn, config, local=False)
        for dim in stale:
            name, temp = index_name(dim), index_name(dim) + "_rebuild"
            started = time.perf_counter()
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(temp)))
            conn.execute(create_sql(temp, dim, config, concurrently=True))
            with conn.transaction():
                conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(temp), sql.Identifier(name)))
            log.info("rebuilt %s with m=%d ef_construction=%d in %.0f s", name, config.m, config.ef_construction,
                     time.perf_counter() - started)
            done.append(dim)
    finally:
        conn.execute("RESET maintenance_work_mem")
        conn.execute("RESET max_parallel_maintenance_workers")
        conn.execute("SELECT pg_advisory_unlock(%s)", (REBUILD_LOCK,))
    return done


def indexed_rows(conn: psycopg.Connection[Any], dim: int) -> float:
    """The rows in one dimension's HNSW index, every project's: the planner's last count of it, or
    the chunks of every project when more (that count lags rows inserted since the last ANALYZE)."""
    row = conn.execute("SELECT GREATEST((SELECT reltuples FROM pg_class WHERE relname = %s),"
                       " (SELECT SUM(chunks) FROM prism_counts))", (index_name(dim),)).fetchone()
    return max(0.0, float(row[0])) if row and row[0] is not None else 0.0


def estimated_rows(conn: psycopg.Connection[Any], query: str, params: list[object]) -> float:
    """The planner's estimate of the rows `query` returns (one EXPLAIN, no execution)."""
    row = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return float(plan[0]["Plan"]["Plan Rows"])


def choose(passing: float, indexed: float, limit: int, config: HnswConfig) -> tuple[Plan, int]:
    """(plan, index candidates) for a query whose filters (the project included) pass `passing`
    of the `indexed` rows: exact over the passing rows when few pass, else the index with enough
    candidates that `limit` of them pass twice over on average (pgvector 0.6 has no iterative scan)."""
    if passing <= config.exact_rows or indexed <= 0:
        return "exact", 0
    selectivity = min(1.0, passing / indexed)
    candidates = math.ceil(config.overfetch * limit / selectivity)
    if candidates > EF_SEARCH_MAX:  # the index cannot return that many: exact is the only sure plan
        return "exact", 0
    return "index", max(limit, candidates)
