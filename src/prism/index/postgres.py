"""PostgresStore: projects' data in one PostgreSQL schema (a `project` column, not a schema each),
vectors in pgvector with HNSW, full text over PRISM's own identifier-aware terms.

A first implementation of the Store Protocol, shaped to pass `tests/contract/test_store.py`:
- Terms: each chunk's `terms` tsvector is built from `terms_text` (the same terms the
  embedded store indexes) with the `simple` configuration, which keeps them as they are;
  path, symbol, doc and body are weights B, A, C, D. Document frequencies are kept exact in
  `prism_terms`, updated in the same transaction as the chunks.
- Lexical score: FTS5's bm25() computed in SQL, so both stores give the same scores: per term,
  f = Σ column weight × hits in that column (kept per chunk in `tf`, a JSON object: a tsvector
  holds at most 256 positions per term and none past 16383, too few for minified files),
  IDF = ln((N − n + 0.5) / (n + 0.5)) (1e-6 when not positive), and
  IDF × f(k1 + 1) / (f + k1(1 − b + b·D/avgdl)) with k1 = 1.2, b = 0.75, D the row's term count
  (`length`) and avgdl the mean over the project (`prism_counts`). The tsvector only finds rows.
- Vectors: one `vector` column of any dimension plus `dim`; an HNSW index per dimension as a
  partial expression index (`vector::vector(dim)` where dim = n), built with the configured m and
  ef_construction (pg_hnsw.py; an index built with others is rebuilt beside it by
  maintain_vectors). A query's plan follows the estimated share of rows its filters pass, the
  project included: exact over the passing rows when few pass, else the index with enough
  candidates; pgvector 0.6 has no iterative scan, so an index pass that yields too few rows is
  run again exactly.
- Backups are COPY dumps of the project's rows, one file per table.

psycopg 3 and psycopg-pool are imported only here (`pip install 'psycopg[binary]' psycopg-pool`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pathspec
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from prism.errors import (
    BackendUnavailableError,
    ConfigError,
    IndexCorruptError,
    IndexLockedError,
    InputError,
    PrismError,
)
from prism.index import pg_hnsw
from prism.index.pg_hnsw import HnswConfig
from prism.index.sqlite import FTS_WEIGHTS
from prism.index.store import (
    CHUNK_COLUMNS,
    HEAD_COLUMNS,
    UNHASHED,
    USAGE_COLUMNS,
    FeedbackMark,
    FileRecord,
    FileState,
    History,
    IndexedFile,
    WeightedTerm,
    level_tokens_text,
    row_to_chunk,
    row_to_head,
    usage_row,
)
from prism.index.terms import ChunkTerms
from prism.index.usage import UsageEvent
from prism.models import Chunk, ChunkHead, SearchFilters, StoredChunk

log = logging.getLogger("prism.usage")

MIGRATION_LOCK = 0x5052_4953  # pg_advisory_xact_lock key while migrating ("PRIS")
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's constants
CONNECT_TIMEOUT_S = 5  # an unreachable server is reported in seconds, not after the pool's 30 s wait
URL_HINT = "Set PRISM_DATABASE_URL to postgresql://user:password@host:5432/database (or unset it for SQLite)."

MIGRATIONS: list[tuple[int, str]] = [(1, """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE prism_meta (project TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                         PRIMARY KEY (project, key));
CREATE TABLE prism_files (
    id BIGSERIAL PRIMARY KEY, project TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    size BIGINT NOT NULL, mtime DOUBLE PRECISION NOT NULL, language TEXT,
    indexed_at DOUBLE PRECISION NOT NULL, status TEXT NOT NULL, warnings TEXT NOT NULL,
    UNIQUE (project, path));
CREATE TABLE prism_chunks (
    id BIGSERIAL PRIMARY KEY, project TEXT NOT NULL,
    file_id BIGINT NOT NULL REFERENCES prism_files(id) ON DELETE CASCADE,
    path TEXT NOT NULL, language TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    qualified_name TEXT NOT NULL, signature TEXT NOT NULL, docstring TEXT NOT NULL,
    start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, content TEXT NOT NULL,
    content_hash TEXT NOT NULL, tokens INTEGER NOT NULL, parent TEXT NOT NULL,
    defines TEXT NOT NULL, imports TEXT NOT NULL, calls TEXT NOT NULL, text_hash TEXT NOT NULL,
    terms TSVECTOR NOT NULL, tf JSONB NOT NULL, length INTEGER NOT NULL);
CREATE INDEX prism_chunks_file ON prism_chunks (file_id);
CREATE INDEX prism_chunks_path ON prism_chunks (project, path);
CREATE INDEX prism_chunks_text_hash ON prism_chunks (project, text_hash);
CREATE INDEX prism_chunks_content_hash ON prism_chunks (project, content_hash text_pattern_ops);
CREATE INDEX prism_chunks_terms ON prism_chunks USING gin (terms);
CREATE TABLE prism_refs (
    project TEXT NOT NULL, chunk_id BIGINT NOT NULL REFERENCES prism_chunks(id) ON DELETE CASCADE,
    kind TEXT NOT NULL, name TEXT NOT NULL);
CREATE INDEX prism_refs_name ON prism_refs (project, name, kind);
CREATE INDEX prism_refs_chunk ON prism_refs (chunk_id);
CREATE TABLE prism_terms (project TEXT NOT NULL, term TEXT NOT NULL, df BIGINT NOT NULL,
                          PRIMARY KEY (project, term));
CREATE TABLE prism_counts (project TEXT PRIMARY KEY, chunks BIGINT NOT NULL, length BIGINT NOT NULL);
CREATE TABLE prism_embeddings (
    project TEXT NOT NULL, model TEXT NOT NULL, text_hash TEXT NOT NULL, dim INTEGER NOT NULL,
    vector vector NOT NULL, PRIMARY KEY (project, model, text_hash));
CREATE TABLE prism_usage (
    id BIGSERIAL PRIMARY KEY, project TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,
    intent TEXT NOT NULL, budget INTEGER NOT NULL, tokens_served INTEGER NOT NULL,
    tokens_saved INTEGER NOT NULL, chunks INTEGER NOT NULL, seconds DOUBLE PRECISION NOT NULL);
CREATE INDEX prism_usage_at ON prism_usage (project, at);
CREATE TABLE prism_feedback (
    project TEXT NOT NULL, path TEXT NOT NULL, symbol TEXT NOT NULL, helpful INTEGER NOT NULL,
    query TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL);
CREATE INDEX prism_feedback_path ON prism_feedback (project, path, symbol);
"""), (2, """
-- each chunk's degradation levels priced at index time (store.level_tokens_text); NULL before
ALTER TABLE prism_chunks ADD COLUMN level_tokens TEXT;
"""), (3, """
-- the lower levels' texts priced at index time (pack/level_texts.py); NULL before
ALTER TABLE prism_chunks ADD COLUMN level_texts TEXT;
""")]
# Every table holding a project's rows, parents first (the order a restore writes them in).
TABLES = ("prism_meta", "prism_files", "prism_chunks", "prism_refs", "prism_terms", "prism_counts", "prism_embeddings",
          "prism_usage", "prism_feedback")
_TERMS_SQL = ("setweight(to_tsvector('simple', %s), 'B') || setweight(to_tsvector('simple', %s), 'A')"
              " || setweight(to_tsvector('simple', %s), 'C') || setweight(to_tsvector('simple', %s), 'D')")
# A row's BM25 over the query's (term, weight n, IDF): f is the term's weighted hits in `tf`.
_BM25_SQL = (
    "(SELECT SUM(q.n * q.idf * (c.tf->>q.term)::float8 * %s / ((c.tf->>q.term)::float8"
    " + %s * (1 - %s + %s * c.length / %s))) FROM unnest(%s::text[], %s::float8[], %s::float8[])"
    " AS q(term, n, idf) WHERE c.tf ? q.term)")


def _lexeme(term: str) -> str:
    """A term as a quoted tsquery lexeme (PRISM's terms are [a-z0-9]; quoting keeps any text inert)."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _vector_text(vector: np.ndarray) -> str:
    return "[" + ",".join(str(x) for x in np.asarray(vector, dtype=np.float32).tolist()) + "]"


def _one(conn: psycopg.Connection[Any], query: str, params: Sequence[object]) -> tuple[Any, ...]:
    """The one row an aggregate query returns."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return tuple(row)


@contextmanager
def prism_errors(where: str) -> Iterator[None]:
    """PostgreSQL's errors as PrismErrors: a lock that was not granted, a database not reached."""
    try:
        yield
    except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected,
            psycopg.errors.SerializationFailure) as exc:
        raise IndexLockedError(f"The index in {where} stayed locked by another writer ({exc}).",
                               hint="Run the command again.", value=where) from exc
    except psycopg.OperationalError as exc:
        raise BackendUnavailableError(f"The database {where} cannot be reached ({exc}).",
                                      hint="Check PRISM_DATABASE_URL and that PostgreSQL is running.",
                                      value=where) from exc


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the PostgreSQL URL"
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


def check_url(url: str) -> None:
    """A postgresql:// URL that psycopg can parse, else a ConfigError naming the problem."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"The database URL must start with postgresql:// (got {url.split(':', 1)[0]!r}).",
                          hint=URL_HINT)
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).strip().replace(url, "<the URL>")  # libpq quotes the URL, password and all
        raise ConfigError(f"The database URL cannot be read: {reason}.", hint=URL_HINT) from exc


def probe(url: str) -> None:
    """Connect once, so that a wrong host, password or database fails now, with PostgreSQL's reason."""
    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise BackendUnavailableError(f"PostgreSQL at {redacted(url)} cannot be reached: {reason}.",
                                      hint="Check that the server runs and that PRISM_DATABASE_URL names its "
                                           "host, port, user, password and database.",
                                      value=redacted(url)) from exc


def open_pool(url: str, *, max_size: int = 8, min_size: int = 1) -> ConnectionPool[psycopg.Connection[Any]]:
    """A pool of autocommit connections to `url`, checked first: a malformed URL is a ConfigError,
    a server that cannot be reached a BackendUnavailableError (the server store shares this)."""
    check_url(url)
    probe(url)
    return ConnectionPool(url, min_size=min_size, max_size=max_size, open=True, timeout=30.0,
                          kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S}, name=redacted(url))


def schema_version(conn: psycopg.Connection[Any], table: str = "prism_schema", schema: str | None = None) -> int:
    """The newest migration recorded in the version `table` (in `schema`, else the search path);
    0 when that table does not exist (e.g. the server store migrated, no index yet)."""
    ident = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    found = conn.execute("SELECT to_regclass(%s)", (ident.as_string(conn),)).fetchone()
    if found is None or found[0] is None:
        return 0
    row = conn.execute(sql.SQL("SELECT MAX(version) FROM {}").format(ident)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(pool: ConnectionPool[psycopg.Connection[Any]], where: str,
            migrations: Sequence[tuple[int, str]] | None = None, *, table: str = "prism_schema",
            lock: int = MIGRATION_LOCK) -> None:
    """Apply pending `migrations` once, even when several replicas start at the same time.

    Each schema (the index's, the server store's) keeps its version in its own `table` under its
    own advisory `lock`. A script runs whole (one simple-protocol call), so a function body's `;`
    stays inside its function.
    """
    if migrations is None:  # read at call time: the index's list, as this module holds it now
        migrations = MIGRATIONS
    latest = max(v for v, _ in migrations)
    versions = sql.Identifier(table)
    with prism_errors(where), pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (version INTEGER NOT NULL)").format(versions))
        current = schema_version(conn, table)
        if current > latest:
            raise IndexCorruptError(f"The database {where} was written by a newer PRISM (schema {current}).",
                                    hint="Upgrade PRISM.", value=where)
        for version, script in migrations:
            if version > current:
                conn.execute(script.encode())  # bytes: not a LiteralString, and no parameters
                conn.execute(sql.SQL("INSERT INTO {}(version) VALUES (%s)").format(versions), (version,))


class PostgresStore:
    """One project's data in a PostgreSQL database shared by many projects."""

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]], project: str, *,
                 owns_pool: bool = False, hnsw: HnswConfig | None = None) -> None:
        self.pool = pool
        self.project = project
        self.hnsw = hnsw or HnswConfig()
        self._rebuilder: threading.Thread | None = None
        self._owns_pool = owns_pool
        self._where = f"{pool.name or 'PostgreSQL'} (project {project})"
        self._lock = threading.Lock()
        self._globs: dict[tuple[int, str], list[str]] = {}
        self._dims: set[int] = set()
        migrate(pool, self._where)

    @classmethod
    def connect(cls, url: str, project: str, *, max_size: int = 8, hnsw: HnswConfig | None = None) -> PostgresStore:
        """A store with a pool of its own (servers share one pool between projects instead).

        A malformed URL is a ConfigError, a server that cannot be reached a BackendUnavailableError.
        """
        return cls(open_pool(url, max_size=max_size), project, owns_pool=True, hnsw=hnsw)

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        with prism_errors(self._where), self.pool.connection() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with prism_errors(self._where), self.pool.connection() as conn, conn.transaction():
            yield conn

    def _bump(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("INSERT INTO prism_meta(project, key, value) VALUES (%s, 'generation', '1')"
                     " ON CONFLICT (project, key) DO UPDATE SET value = (prism_meta.value::bigint + 1)::text",
                     (self.project,))

    def close(self) -> None:
        rebuilder = self._rebuilder
        if rebuilder is not None:  # a CLI index run ends with its rebuilt index swapped in
            rebuilder.join()
        if self._owns_pool and not self.pool.closed:
            self.pool.close()

    # -- meta and files ------------------------------------------------------------------------

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def get_meta(self, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM prism_meta WHERE project=%s AND key=%s",
                               (self.project, key)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: dict[str, str]) -> None:
        with self._write() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO prism_meta(project, key, value) VALUES (%s, %s, %s)"
                            " ON CONFLICT (project, key) DO UPDATE SET value = EXCLUDED.value",
                            [(self.project, k, v) for k, v in values.items()])

    def file_states(self) -> dict[str, FileState]:
        with self._read() as conn:
            rows = conn.execute("SELECT path, sha256, size, mtime, indexed_at FROM prism_files WHERE project=%s",
                                (self.project,)).fetchall()
        return {r[0]: FileState(r[0], r[1], int(r[2]), float(r[3]), float(r[4])) for r in rows}

    def file_state(self, path: str) -> FileState | None:
        with self._read() as conn:
            r = conn.execute("SELECT path, sha256, size, mtime, indexed_at FROM prism_files"
                             " WHERE project=%s AND path=%s", (self.project, path)).fetchone()
        return None if r is None else FileState(r[0], r[1], int(r[2]), float(r[3]), float(r[4]))

    def write_files(self, files: Sequence[IndexedFile]) -> None:
        """Replace the chunks of each file in one transaction (the indexer's batch).

        Each table gets one `executemany` for the whole batch: psycopg pipelines it, so the batch
        costs a few round trips rather than one per file, chunk and ref. Rows go in the order a
        loop of single inserts would write them, so ids are assigned the same way.
        """
        now = time.time()
        with self._write() as conn, conn.cursor() as cur:
            self._delete_paths(conn, [item.record.path for item in files])
            file_ids = self._insert_many(cur, (
                "INSERT INTO prism_files(project, path, sha256, size, mtime, language, indexed_at, status, warnings)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"),
                [(self.project, rec.path, rec.sha256, rec.size, rec.mtime, rec.language, now,
                  "partial" if rec.warnings else "indexed", "\n".join(rec.warnings))
                 for rec in (item.record for item in files)])
            chunks = [chunk for item in files for chunk in item.chunks]
            new_ids = self._insert_many(cur, (
                "INSERT INTO prism_chunks(project, file_id, path, language, kind, name, qualified_name, signature,"
                " docstring, start_line, end_line, content, content_hash, tokens, parent, defines, imports, calls,"
                f" text_hash, terms, tf, length, level_tokens, level_texts) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
                f"%s,%s,%s,%s,%s,%s,%s,%s, {_TERMS_SQL}, %s::jsonb, %s, %s, %s) RETURNING id"),
                [self._chunk_row(file_id, chunk, text_hash, terms)
                 for file_id, item in zip(file_ids, files, strict=True)
                 for chunk, text_hash, terms in zip(item.chunks, item.text_hashes, item.chunk_terms(), strict=True)])
            refs = [row for chunk_id, chunk in zip(new_ids, chunks, strict=True)
                    for row in self._ref_rows(chunk_id, chunk)]
            if refs:
                cur.executemany("INSERT INTO prism_refs(project, chunk_id, kind, name) VALUES (%s, %s, %s, %s)", refs)
            self._count_terms(conn, new_ids, +1)
            self._bump(conn)

    @staticmethod
    def _insert_many(cur: psycopg.Cursor[Any], query: str, rows: list[tuple[object, ...]]) -> list[int]:
        """The ids `INSERT ... RETURNING id` gives each of `rows`, in order, from one pipelined executemany."""
        if not rows:
            return []
        cur.executemany(query, rows, returning=True)
        ids: list[int] = []
        while True:
            found = cur.fetchone()
            assert found is not None
            ids.append(int(found[0]))
            if not cur.nextset():
                return ids

    def _chunk_row(self, file_id: int, chunk: Chunk, text_hash: str, columns: ChunkTerms) -> tuple[object, ...]:
        # the four columns the embedded store's FTS5 table holds (`columns`), and their term count (BM25's D)
        tf: dict[str, float] = {}
        for weight, text in zip(FTS_WEIGHTS, columns, strict=True):
            for term in text.split():
                tf[term] = tf.get(term, 0.0) + weight
        return (self.project, file_id, chunk.path, chunk.language, chunk.kind, chunk.name, chunk.qualified_name,
                chunk.signature, chunk.docstring, chunk.start_line, chunk.end_line, chunk.content,
                chunk.content_hash, chunk.tokens, chunk.parent, json.dumps(list(chunk.defines)),
                json.dumps(list(chunk.imports)), json.dumps(list(chunk.calls)), text_hash,
                *columns, json.dumps(tf), sum(len(c.split()) for c in columns),
                level_tokens_text(chunk.level_tokens), chunk.level_tokens.texts if chunk.level_tokens else None)

    def _ref_rows(self, chunk_id: int, chunk: Chunk) -> list[tuple[object, ...]]:
        names = sorted({chunk.qualified_name, chunk.name, *chunk.defines})
        refs: list[tuple[object, ...]] = [(self.project, chunk_id, "defines", n) for n in names if n]
        refs += [(self.project, chunk_id, "imports", n) for n in sorted(set(chunk.imports))]
        refs += [(self.project, chunk_id, "calls", n) for n in sorted(set(chunk.calls))]
        return refs

    def _count_terms(self, conn: psycopg.Connection[Any], chunk_ids: list[int], sign: int) -> None:
        """Move the document frequencies of the given chunks' terms by +1 or -1 each."""
        if not chunk_ids:
            return
        conn.execute(
            "INSERT INTO prism_terms(project, term, df) SELECT %s, term, %s * COUNT(*) FROM prism_chunks c,"
            " unnest(tsvector_to_array(c.terms)) AS term WHERE c.id = ANY(%s) GROUP BY term"
            " ON CONFLICT (project, term) DO UPDATE SET df = prism_terms.df + EXCLUDED.df",
            (self.project, sign, chunk_ids))
        conn.execute(
            "INSERT INTO prism_counts(project, chunks, length) SELECT %s, %s * COUNT(*), %s * COALESCE(SUM(length), 0)"
            " FROM prism_chunks WHERE id = ANY(%s) ON CONFLICT (project) DO UPDATE SET"
            " chunks = prism_counts.chunks + EXCLUDED.chunks, length = prism_counts.length + EXCLUDED.length",
            (self.project, sign, sign, chunk_ids))
        if sign < 0:
            conn.execute("DELETE FROM prism_terms WHERE project=%s AND df <= 0", (self.project,))

    def _delete_paths(self, conn: psycopg.Connection[Any], paths: Sequence[str]) -> None:
        rows = conn.execute("SELECT id FROM prism_chunks WHERE project=%s AND path = ANY(%s)",
                            (self.project, list(paths))).fetchall()
        self._count_terms(conn, [int(r[0]) for r in rows], -1)
        conn.execute("DELETE FROM prism_files WHERE project=%s AND path = ANY(%s)", (self.project, list(paths)))

    def touch_files(self, states: Sequence[tuple[str, int, float]]) -> None:
        if not states:
            return
        with self._write() as conn, conn.cursor() as cur:
            cur.executemany("UPDATE prism_files SET size=%s, mtime=%s WHERE project=%s AND path=%s",
                            [(size, mtime, self.project, path) for path, size, mtime in states])

    def delete_files(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        with self._write() as conn:
            self._delete_paths(conn, paths)
            self._bump(conn)

    def stats(self) -> dict[str, object]:
        with self._read() as conn:
            p = (self.project,)
            files = int(_one(conn, "SELECT COUNT(*) FROM prism_files WHERE project=%s", p)[0])
            chunks, tokens = _one(conn, "SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM prism_chunks"
                                        " WHERE project=%s", p)
            languages = {str(lang or "text"): int(n) for lang, n in conn.execute(
                "SELECT language, COUNT(*) FROM prism_files WHERE project=%s GROUP BY language"
                " ORDER BY COUNT(*) DESC, language", p)}
            last, partial = _one(
                conn, "SELECT MAX(indexed_at), COUNT(*) FILTER (WHERE status='partial') FROM prism_files"
                      " WHERE project=%s", p)
        return {"files": files, "chunks": int(chunks), "tokens": int(tokens), "languages": languages,
                "last_indexed": float(last) if last is not None else None, "partial_files": int(partial)}

    # -- chunks ----------------------------------------------------------------------------------

    def _chunks_where(self, where: str, params: Sequence[object], order: str = "c.id") -> list[StoredChunk]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {CHUNK_COLUMNS} FROM prism_chunks c JOIN prism_files f ON f.id = c.file_id"
                f" WHERE c.project = %s AND {where} ORDER BY {order}", (self.project, *params)).fetchall()
        return [row_to_chunk(r) for r in rows]

    def get_chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        if not ids:
            return []
        found = {sc.id: sc for sc in self._chunks_where("c.id = ANY(%s)", [list(ids)])}
        return [found[i] for i in ids if i in found]

    def get_heads(self, ids: Sequence[int]) -> list[ChunkHead]:
        if not ids:
            return []
        found = {head.id: head for head in self._heads_where("c.id = ANY(%s)", [list(ids)])}
        return [found[i] for i in ids if i in found]

    def chunks_in_file(self, path: str) -> list[StoredChunk]:
        return self._chunks_where("c.path = %s", [path], "c.start_line, c.end_line")

    def heads_in_file(self, path: str) -> list[ChunkHead]:
        return self._heads_where("c.path = %s", [path], "c.start_line, c.end_line")

    def _heads_where(self, where: str, params: Sequence[object], order: str = "c.id") -> list[ChunkHead]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {HEAD_COLUMNS} FROM prism_chunks c JOIN prism_files f ON f.id = c.file_id"
                f" WHERE c.project = %s AND {where} ORDER BY {order}", (self.project, *params)).fetchall()
        return [row_to_head(r) for r in rows]

    def iter_chunks(self, batch: int = 2000) -> Iterator[StoredChunk]:
        last = 0
        while True:
            rows = self._chunks_where("c.id > %s", [last], f"c.id LIMIT {int(batch)}")
            if not rows:
                return
            yield from rows
            last = rows[-1].id

    def export_files(self) -> Iterator[IndexedFile]:
        with self._read() as conn:
            files = conn.execute("SELECT id, path, sha256, size, mtime, language, warnings FROM prism_files"
                                 " WHERE project = %s ORDER BY id", (self.project,)).fetchall()
        for fid, path, sha, size, mtime, language, warnings in files:
            with self._read() as conn:
                rows = conn.execute(f"SELECT {CHUNK_COLUMNS}, c.text_hash FROM prism_chunks c JOIN prism_files f"
                                    " ON f.id = c.file_id WHERE c.file_id = %s ORDER BY c.id", (fid,)).fetchall()
            record = FileRecord(path, sha, int(size), float(mtime), language,
                                tuple(warnings.split("\n")) if warnings else ())
            yield IndexedFile(record, tuple(row_to_chunk(r[:-1]).chunk for r in rows),
                              tuple(str(r[-1]) for r in rows))

    def export_embeddings(self, model: str, batch: int = 1000) -> Iterator[list[tuple[str, np.ndarray]]]:
        last = ""
        while True:
            with self._read() as conn:  # pgvector's text form round-trips float32 exactly
                rows = conn.execute("SELECT text_hash, vector::text FROM prism_embeddings WHERE project = %s"
                                    " AND model = %s AND text_hash > %s ORDER BY text_hash LIMIT %s",
                                    (self.project, model, last, batch)).fetchall()
            if not rows:
                return
            yield [(str(h), np.asarray(json.loads(v), dtype=np.float32)) for h, v in rows]
            last = str(rows[-1][0])

    def chunk_ids_by_hash_prefix(self, prefix: str, limit: int = 5) -> list[int]:
        clean = "".join(ch for ch in prefix.lower() if ch in "0123456789abcdef")
        if len(clean) < 6:
            return []
        with self._read() as conn:
            rows = conn.execute("SELECT id FROM prism_chunks WHERE project=%s AND content_hash LIKE %s"
                                " ORDER BY id LIMIT %s", (self.project, clean + "%", limit)).fetchall()
        return [int(r[0]) for r in rows]

    def file_tokens(self, paths: Sequence[str]) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute("SELECT path, SUM(tokens) FROM prism_chunks WHERE project=%s AND path = ANY(%s)"
                                " GROUP BY path", (self.project, sorted(set(paths)))).fetchall()
        return {str(p): int(t) for p, t in rows}

    def _filter_sql(self, filters: SearchFilters | None) -> tuple[str, list[object]]:
        """SQL over `c` (chunks) and `f` (files) for the filters, and its parameters."""
        if filters is None:
            return "", []
        clauses: list[str] = []
        params: list[object] = []
        if filters.languages:
            clauses.append("c.language = ANY(%s)")
            params.append(list(filters.languages))
        if filters.kinds:
            clauses.append("c.kind = ANY(%s)")
            params.append(list(filters.kinds))
        if filters.since is not None:
            clauses.append("(f.mtime >= %s OR f.indexed_at >= %s)")
            params.extend([filters.since, filters.since])
        if filters.path:
            if any(ch in filters.path for ch in "*?["):
                clauses.append("c.path = ANY(%s)")
                params.append(self._glob_paths(filters.path))
            else:
                prefix = filters.path.strip("/")
                escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append("(c.path = %s OR c.path LIKE %s)")
                params.extend([prefix, escaped + "/%"])
        return ("AND " + " AND ".join(clauses)) if clauses else "", params

    def _glob_paths(self, glob: str) -> list[str]:
        """Indexed paths matching a gitignore-style glob (matched here: SQL has no such function)."""
        key = (self.generation(), glob)
        with self._lock:
            if key not in self._globs:
                spec = pathspec.GitIgnoreSpec.from_lines([glob])
                self._globs = {key: [p for p in sorted(self.file_states()) if spec.match_file(p)]}
            return self._globs[key]

    def filter_ids(self, ids: Iterable[int], filters: SearchFilters) -> set[int]:
        wanted = sorted(set(ids))
        where, params = self._filter_sql(filters)
        if not where or not wanted:
            return set(wanted)
        with self._read() as conn:
            rows = conn.execute(f"SELECT c.id FROM prism_chunks c JOIN prism_files f ON f.id = c.file_id"
                                f" WHERE c.project = %s AND c.id = ANY(%s) {where}",
                                (self.project, wanted, *params)).fetchall()
        return {int(r[0]) for r in rows}

    # -- code graph --------------------------------------------------------------------------------

    def find_refs(self, names: Iterable[str], kind: str = "defines", *,
                  most: int | None = None) -> list[tuple[int, str]]:
        wanted = sorted(set(names))
        if not wanted:
            return []
        bounded = "" if most is None else (
            " AND name IN (SELECT name FROM prism_refs WHERE project=%s AND kind=%s AND name = ANY(%s)"
            " GROUP BY name HAVING count(*) <= %s)")
        params = () if most is None else (self.project, kind, wanted, most)
        with self._read() as conn:
            rows = conn.execute("SELECT chunk_id, name FROM prism_refs WHERE project=%s AND kind=%s"
                                f" AND name = ANY(%s){bounded} ORDER BY name, chunk_id",  # SQLite's index order
                                (self.project, kind, wanted, *params)).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def refs_of(self, chunk_ids: Sequence[int], kind: str) -> list[tuple[int, str]]:
        if not chunk_ids:
            return []
        with self._read() as conn:
            rows = conn.execute("SELECT chunk_id, name FROM prism_refs WHERE project=%s AND kind=%s"
                                " AND chunk_id = ANY(%s) ORDER BY chunk_id, name",
                                (self.project, kind, list(chunk_ids))).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    # -- lexical -------------------------------------------------------------------------------------

    def count_chunks(self) -> int:
        return self._counts()[0]

    def _counts(self) -> tuple[int, int]:
        """Chunks and their total term count, kept beside the chunks (no scan per query)."""
        with self._read() as conn:
            row = conn.execute("SELECT chunks, length FROM prism_counts WHERE project=%s", (self.project,)).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        wanted = sorted(set(terms))
        if not wanted:
            return {}
        with self._read() as conn:
            rows = conn.execute("SELECT term, df FROM prism_terms WHERE project=%s AND term = ANY(%s) AND df > 0",
                                (self.project, wanted)).fetchall()
        return {str(t): int(n) for t, n in rows}

    def lexical(self, terms: Sequence[WeightedTerm], limit: int, filters: SearchFilters | None = None,
                require: Sequence[str] = ()) -> list[tuple[int, float]]:
        if not terms:
            return []
        counts = self.document_frequencies([t for t, _ in terms])
        total, length = self._counts()
        scored = [(t, n, max(math.log((total - counts[t] + 0.5) / (counts[t] + 0.5)), 1e-6))
                  for t, n in terms if counts.get(t)]
        if not scored:
            return []
        avgdl = length / max(total, 1)
        names = [t for t, _, _ in scored]
        rank_args: list[object] = [BM25_K1 + 1, BM25_K1, BM25_B, BM25_B, avgdl, names,
                                   [float(n) for _, n, _ in scored], [idf for _, _, idf in scored]]
        where, params = self._filter_sql(filters)
        gate = ""
        gate_params: list[object] = []
        if require:
            gate = "AND c.terms @@ %s::tsquery"
            gate_params = [" | ".join(_lexeme(t) for t in require)]
        query = (f"SELECT c.id, {_BM25_SQL} AS score FROM prism_chunks c JOIN prism_files f ON f.id = c.file_id"
                 f" WHERE c.project = %s AND c.terms @@ %s::tsquery {gate} {where}"
                 " ORDER BY score DESC, c.id LIMIT %s")
        args = [*rank_args, self.project, " | ".join(_lexeme(t) for t in names), *gate_params, *params, limit]
        with self._read() as conn:
            rows = conn.execute(query, args).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def rank_files(self, terms: Sequence[str], limit: int) -> dict[str, int]:
        hits = self.lexical([(t, 1) for t in terms], limit)
        paths = list(dict.fromkeys(sc.chunk.path for sc in self.get_chunks([cid for cid, _ in hits])))
        sizes = self.file_tokens(paths)
        return {p: sizes.get(p, 0) for p in paths}

    # -- vectors -------------------------------------------------------------------------------------

    def _ensure_hnsw(self, conn: psycopg.Connection[Any], dim: int) -> None:
        """One HNSW index per dimension, a partial expression index (a column of any dimension has none);
        built here over the rows already stored (a bulk load) with the build's memory and workers."""
        if dim in self._dims:
            return
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        pg_hnsw.build_settings(conn, self.hnsw, local=True)
        conn.execute(pg_hnsw.create_sql(pg_hnsw.index_name(dim), dim, self.hnsw))
        self._dims.add(dim)

    def put_embeddings(self, model: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        if not items:
            return
        with self._write() as conn:
            for dim in sorted({len(v) for _, v in items}):
                self._ensure_hnsw(conn, dim)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO prism_embeddings(project, model, text_hash, dim, vector)"
                    " VALUES (%s, %s, %s, %s, %s::vector) ON CONFLICT (project, model, text_hash)"
                    " DO UPDATE SET dim = EXCLUDED.dim, vector = EXCLUDED.vector",
                    [(self.project, model, h, len(v), _vector_text(v)) for h, v in items])
            self._bump(conn)

    def pending_embeddings(self, model: str, limit: int) -> list[tuple[str, int]]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT c.text_hash, c.id FROM prism_chunks c WHERE c.project = %s AND c.text_hash <> ''"
                " AND NOT EXISTS"
                " (SELECT 1 FROM prism_embeddings e WHERE e.project = c.project AND e.model = %s"
                " AND e.text_hash = c.text_hash) ORDER BY c.id LIMIT %s", (self.project, model, limit)).fetchall()
        first: dict[str, int] = {}
        for text_hash, chunk_id in rows:
            first.setdefault(str(text_hash), int(chunk_id))
        return list(first.items())

    def chunk_text_hashes(self) -> list[tuple[int, str]]:
        with self._read() as conn:
            rows = conn.execute("SELECT id, text_hash FROM prism_chunks WHERE project = %s AND text_hash <> ''"
                                " ORDER BY id", (self.project,)).fetchall()
        return [(int(cid), str(h)) for cid, h in rows]

    def count_pending_embeddings(self, model: str) -> int:
        with self._read() as conn:
            row = conn.execute(
                "SELECT COUNT(DISTINCT NULLIF(c.text_hash, %s)) + COUNT(*) FILTER (WHERE c.text_hash = %s)"
                " FROM prism_chunks c WHERE c.project = %s AND c.text_hash <> ''"
                " AND NOT EXISTS"
                " (SELECT 1 FROM prism_embeddings e WHERE e.project = c.project AND e.model = %s"
                " AND e.text_hash = c.text_hash)", (UNHASHED, UNHASHED, self.project, model)).fetchone()
        return int(row[0]) if row else 0

    def unhashed_chunks(self, limit: int) -> list[int]:
        with self._read() as conn:
            rows = conn.execute("SELECT id FROM prism_chunks WHERE project = %s AND text_hash = %s ORDER BY id"
                                " LIMIT %s", (self.project, UNHASHED, limit)).fetchall()
        return [int(r[0]) for r in rows]

    def set_text_hashes(self, items: Sequence[tuple[int, str]]) -> None:
        with self._write() as conn:
            with conn.cursor() as cur:
                cur.executemany("UPDATE prism_chunks SET text_hash = %s WHERE project = %s AND id = %s",
                                [(h, self.project, cid) for cid, h in items])
            self._bump(conn)

    def drop_embeddings(self, keep_model: str | None = None) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM prism_embeddings WHERE project=%s AND model IS DISTINCT FROM %s",
                         (self.project, keep_model))
            self._bump(conn)

    def prune_embeddings(self, model: str) -> int:
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM prism_embeddings e WHERE e.project = %s AND e.model = %s AND NOT EXISTS"
                " (SELECT 1 FROM prism_chunks c WHERE c.project = e.project AND c.text_hash = e.text_hash)"
                " AND NOT EXISTS (SELECT 1 FROM prism_chunks c WHERE c.project = e.project AND c.text_hash = %s)",
                (self.project, model, UNHASHED))
            return int(cur.rowcount)

    def maintain_vectors(self, model: str, *, wait: bool = False) -> None:
        """pgvector keeps its HNSW index up to date on every write; an index built with other graph
        parameters than the store's (an older PRISM's, a changed setting) is rebuilt beside it, in
        the background unless `wait` (searches go on through the old one until the swap)."""
        with self._lock:
            running = self._rebuilder is not None and self._rebuilder.is_alive()
            if not running:
                self._rebuilder = threading.Thread(target=self._rebuild, args=(model,), name="prism-pg-hnsw-build",
                                                   daemon=True)
                self._rebuilder.start()
            rebuilder = self._rebuilder
        if wait and rebuilder is not None:
            rebuilder.join()

    def _rebuild(self, model: str) -> None:
        try:
            with self._read() as conn:
                row = conn.execute("SELECT dim FROM prism_embeddings WHERE project = %s AND model = %s LIMIT 1",
                                   (self.project, model)).fetchone()
                if row is not None:  # the index of this model's vectors (other dimensions are other models')
                    pg_hnsw.rebuild_stale(conn, self.hnsw, {int(row[0])})
        except (PrismError, psycopg.Error):  # searches go on through the old index; the next run retries
            logging.getLogger("prism.index").warning("HNSW rebuild failed", exc_info=True)

    def nearest(self, model: str, queries: np.ndarray, limit: int,
                filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        dim = int(queries.shape[1])
        where, params = self._filter_sql(filters)
        plan, candidates = self.nearest_plan(dim, where, params, limit)
        best: dict[int, float] = {}
        for query in queries:
            found = self._nearest_one(model, dim, _vector_text(query), limit, where, params,
                                      exact=plan == "exact", candidates=candidates)
            if plan == "index" and len(found) < limit:  # fewer passed than estimated: every passing row
                found = self._nearest_one(model, dim, _vector_text(query), limit, where, params, exact=True)
            for cid, sim in found:
                best[cid] = max(best.get(cid, -math.inf), sim)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:limit]

    def nearest_plan(self, dim: int, where: str, params: list[object], limit: int) -> tuple[pg_hnsw.Plan, int]:
        """(plan, index candidates) by the share of the index's rows that this project and the filters pass."""
        with self._read() as conn:
            indexed = pg_hnsw.indexed_rows(conn, dim)
            if where:
                passing = pg_hnsw.estimated_rows(
                    conn, f"SELECT 1 FROM prism_chunks c JOIN prism_files f ON f.id = c.file_id"
                          f" WHERE c.project = %s {where}", [self.project, *params])
            else:
                row = conn.execute("SELECT chunks FROM prism_counts WHERE project = %s", (self.project,)).fetchone()
                passing = float(row[0]) if row else 0.0
        return pg_hnsw.choose(passing, indexed, limit, self.hnsw)

    def _nearest_one(self, model: str, dim: int, vector: str, limit: int, where: str,
                     params: list[object], *, exact: bool, candidates: int = 0) -> list[tuple[int, float]]:
        query, args, ef_search = self.nearest_sql(model, dim, vector, limit, where, params, exact=exact,
                                                  candidates=candidates)
        with self._read() as conn, conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {ef_search}")
            rows = conn.execute(query, args).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def nearest_sql(self, model: str, dim: int, vector: str, limit: int, where: str, params: list[object],
                    *, exact: bool, candidates: int = 0) -> tuple[str, list[object], int]:
        """The query one pass of nearest() runs, its arguments and its hnsw.ef_search (benchmarks EXPLAIN it).

        The index pass takes `candidates` nearest rows of this project (at least `limit`), then
        joins and filters them; the exact pass filters first and orders every passing row.
        """
        distance = f"(e.vector::vector({dim}) <=> %s::vector({dim}))"
        inner_limit = max(limit, candidates)
        if exact:  # `+ 0` keeps the planner off the HNSW index: every passing row is a candidate
            query = (f"SELECT c.id, 1 - {distance} AS sim FROM prism_embeddings e JOIN prism_chunks c"
                     " ON c.project = e.project AND c.text_hash = e.text_hash JOIN prism_files f ON f.id = c.file_id"
                     f" WHERE e.project = %s AND e.model = %s AND e.dim = {dim} {where}"
                     f" ORDER BY {distance} + 0, c.id LIMIT %s")
            return query, [vector, self.project, model, *params, vector, limit], self.hnsw.ef_search
        query = (f"SELECT c.id, 1 - t.d FROM (SELECT e.text_hash, {distance} AS d FROM prism_embeddings e"
                 f" WHERE e.project = %s AND e.model = %s AND e.dim = {dim} ORDER BY {distance} LIMIT %s) t"
                 " JOIN prism_chunks c ON c.project = %s AND c.text_hash = t.text_hash"
                 f" JOIN prism_files f ON f.id = c.file_id WHERE TRUE {where} ORDER BY t.d, c.id LIMIT %s")
        args = [vector, self.project, model, vector, inner_limit, self.project, *params, limit]
        return query, args, min(pg_hnsw.EF_SEARCH_MAX, max(self.hnsw.ef_search, inner_limit))

    # -- usage and feedback -----------------------------------------------------------------------

    def record_usage(self, event: UsageEvent, at: float | None = None) -> bool:
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO prism_usage(project, at, kind, intent, budget, tokens_served, tokens_saved,"
                    " chunks, seconds) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (self.project, time.time() if at is None else at, event.kind, event.intent, event.budget,
                     event.tokens_served, event.tokens_saved, event.chunks, event.seconds))
        except (psycopg.Error, PrismError) as exc:
            log.warning("usage not recorded: %s", exc)
            return False
        return True

    def usage_summary(self, since: float | None = None) -> dict[str, object]:
        where, params = ("AND at >= %s", [since]) if since is not None else ("", [])
        with self._read() as conn:
            row = _one(conn, "SELECT COUNT(*), COALESCE(SUM(tokens_served), 0), COALESCE(SUM(tokens_saved), 0),"
                             f" COALESCE(AVG(seconds), 0), MAX(at) FROM prism_usage WHERE project = %s {where}",
                       (self.project, *params))
            by_intent = {str(i): int(n) for i, n in conn.execute(
                f"SELECT intent, COUNT(*) FROM prism_usage WHERE project = %s {where}"
                " GROUP BY intent ORDER BY COUNT(*) DESC, intent", (self.project, *params))}
        return {"queries": int(row[0]), "tokens_served": int(row[1]), "tokens_saved": int(row[2]),
                "mean_ms": round(float(row[3]) * 1000, 1),
                "last_at": float(row[4]) if row[4] is not None else None, "by_intent": by_intent}

    def record_feedback(self, path: str, symbol: str, helpful: bool, query: str = "") -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO prism_feedback(project, path, symbol, helpful, query, created_at)"
                         " VALUES (%s, %s, %s, %s, %s, %s)",
                         (self.project, path, symbol, 1 if helpful else -1, query[:2000], time.time()))

    def feedback_marks(self, paths: Iterable[str]) -> dict[tuple[str, str], int]:
        wanted = sorted(set(paths))
        if not wanted:
            return {}
        with self._read() as conn:
            rows = conn.execute("SELECT path, symbol, SUM(helpful) FROM prism_feedback WHERE project=%s"
                                " AND path = ANY(%s) GROUP BY path, symbol", (self.project, wanted)).fetchall()
        return {(str(p), str(s)): int(n) for p, s, n in rows}

    def export_history(self) -> History:
        with self._read() as conn:
            usage = [usage_row(row) for row in conn.execute(
                f"SELECT {USAGE_COLUMNS} FROM prism_usage WHERE project = %s ORDER BY at, id".encode(),
                (self.project,))]
            feedback = [FeedbackMark(str(p), str(s), int(h), str(q), float(at)) for p, s, h, q, at in conn.execute(
                "SELECT path, symbol, helpful, query, created_at FROM prism_feedback WHERE project = %s"
                " ORDER BY created_at", (self.project,))]
        return History(usage, feedback)

    def import_history(self, history: History) -> None:
        with self._write() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO prism_usage(project, at, kind, intent, budget, tokens_served, tokens_saved,"
                            " chunks, seconds) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                            [(self.project, at, e.kind, e.intent, e.budget, e.tokens_served, e.tokens_saved,
                              e.chunks, e.seconds) for at, e in history.usage])
            cur.executemany("INSERT INTO prism_feedback(project, path, symbol, helpful, query, created_at)"
                            " VALUES (%s, %s, %s, %s, %s, %s)",
                            [(self.project, m.path, m.symbol, m.helpful, m.query, m.created_at)
                             for m in history.feedback])

    # -- lifecycle ----------------------------------------------------------------------------------

    def backup(self, dest: Path) -> None:
        """One COPY dump per table of this project's rows, taken in one snapshot."""
        dest.mkdir(parents=True, exist_ok=True)
        with self._read() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for table in TABLES:
                with (dest / f"{table}.copy").open("wb") as out, conn.cursor() as cur, cur.copy(
                        sql.SQL("COPY (SELECT * FROM {} WHERE project = {}) TO STDOUT").format(
                            sql.Identifier(table), sql.Literal(self.project))) as copy:
                    for data in copy:
                        out.write(data)

    def restore(self, source: Path) -> None:
        """Replace this project's rows with a backup's; the generation moves past both."""
        missing = [t for t in TABLES if not (source / f"{t}.copy").is_file()]
        if missing:
            raise InputError(f"{source} holds no {missing[0]}.copy to restore.",
                             hint="Pass a folder written by a PRISM backup of a PostgreSQL store.", value=source)
        before = self.generation()
        with self._write() as conn:
            self._delete_all(conn)
            for table in TABLES:
                data = (source / f"{table}.copy").read_bytes()
                columns = self._backup_columns(conn, table, data)
                with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
                    copy.write(data)
            conn.execute("INSERT INTO prism_meta(project, key, value) VALUES (%s, 'generation', %s)"
                         " ON CONFLICT (project, key) DO UPDATE SET value ="
                         " (GREATEST(prism_meta.value::bigint, %s) + 1)::text",
                         (self.project, str(before + 1), before))
            for table in ("prism_files", "prism_chunks", "prism_usage"):  # restored ids stay below the next
                conn.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'),"
                                     " GREATEST((SELECT MAX(id) FROM {}), 1))").format(
                    sql.Literal(table), sql.Identifier(table)))
        with self._lock:
            self._globs = {}

    @staticmethod
    def _backup_columns(conn: psycopg.Connection[Any], table: str, data: bytes) -> list[str]:
        """The columns a backup's COPY rows hold: migrations only append columns, so a backup
        taken at an older schema holds a prefix of today's (the rest restore as their defaults)."""
        columns = [str(r[0]) for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum", (table,)).fetchall()]
        first = data.split(b"\n", 1)[0]
        if not first:
            return columns  # no rows
        fields = first.count(b"\t") + 1  # COPY text format escapes tabs inside values
        if fields > len(columns):
            raise InputError(f"The backup's {table} rows have {fields} columns; this PRISM's table has "
                             f"{len(columns)}.", hint="Restore it with the PRISM version that wrote it.")
        return columns[:fields]

    def _delete_all(self, conn: psycopg.Connection[Any]) -> None:
        for table in reversed(TABLES):
            conn.execute(sql.SQL("DELETE FROM {} WHERE project = %s").format(sql.Identifier(table)),
                         (self.project,))

    def forget(self) -> None:
        """Delete every row of this project; the store is closed afterwards."""
        with self._write() as conn:
            self._delete_all(conn)
        self.close()
