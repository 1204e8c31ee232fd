"""PostgresServerStore: the server's keys, JWT deny list, projects and audit log in PostgreSQL.

Chosen by PRISM_DATABASE_URL (server_store.open_server_store), in the same database as the
project indexes (index/postgres.py), whose pool and migration helpers it uses: its tables are
prefixed `prism_server_`, versioned in `prism_server_schema` under their own advisory lock, so
replicas starting together migrate once. Every statement runs on a pooled autocommit connection;
a key change takes a table lock that lets reads through but serialises every other key change
on every replica (two admins revoking each other cannot both win). UPDATE, DELETE and TRUNCATE
on the audit log are refused by triggers, as in SQLite. A project's index generations are
columns of its row, and its writer lock is a session advisory lock on a connection of its own,
so it is held across replicas and released by PostgreSQL when its holder dies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from prism.errors import BackendUnavailableError
from prism.index.postgres import CONNECT_TIMEOUT_S, migrate, open_pool, prism_errors
from prism.serve.http.generations import GenerationRow
from prism.serve.http.server_store import Dialect, Row, ServerTables
from prism.serve.http.uploads import ProjectFiles

POOL_SIZE = 4  # per replica process: each request holds a connection for one statement
SCHEMA_LOCK = 0x5052_5356  # pg_advisory_xact_lock key while migrating ("PRSV")
PROJECT_LOCKS = 0x5052  # first key of a project's writer lock; the second is hashtext(name)
LOCK_POLL_S = 0.05
POSTGRES = Dialect("prism_server_keys", "prism_server_revoked_tokens", "prism_server_projects",
                   "prism_server_audit", "GREATEST")

MIGRATIONS: list[tuple[int, str]] = [(1, """
CREATE TABLE prism_server_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    projects TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION,
    last_used_at DOUBLE PRECISION,
    revoked_at DOUBLE PRECISION,
    rotated_to TEXT,
    actions TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL DEFAULT '');
CREATE TABLE prism_server_revoked_tokens (
    jti TEXT PRIMARY KEY,
    revoked_at DOUBLE PRECISION NOT NULL,
    forget_after DOUBLE PRECISION NOT NULL);
CREATE TABLE prism_server_projects (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('upload', 'path')),
    root TEXT NOT NULL,
    index_dir TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    started BIGINT,                      -- index generations: NULL until the first is recorded
    completed BIGINT,
    phase TEXT);
CREATE TABLE prism_server_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    principal TEXT NOT NULL,
    event TEXT NOT NULL,
    target TEXT NOT NULL,
    request_id TEXT,
    address TEXT,
    details TEXT NOT NULL DEFAULT '{}');
CREATE FUNCTION prism_server_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER prism_server_audit_no_change BEFORE UPDATE OR DELETE ON prism_server_audit
    FOR EACH ROW EXECUTE FUNCTION prism_server_audit_append_only();
CREATE TRIGGER prism_server_audit_no_truncate BEFORE TRUNCATE ON prism_server_audit
    FOR EACH STATEMENT EXECUTE FUNCTION prism_server_audit_append_only();
"""), (2, """
-- Uploaded projects' files (files_postgres.py): content-addressed blobs per project, the path
-- manifest over them, and a version (a random token) that changes with every change to the manifest.
CREATE TABLE prism_server_file_sets (
    project TEXT PRIMARY KEY REFERENCES prism_server_projects (name) ON DELETE CASCADE,
    version TEXT NOT NULL);
CREATE TABLE prism_server_blobs (
    project TEXT NOT NULL REFERENCES prism_server_projects (name) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (project, sha256));
CREATE TABLE prism_server_files (
    project TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (project, path),
    FOREIGN KEY (project, sha256) REFERENCES prism_server_blobs (project, sha256) ON DELETE CASCADE);
CREATE INDEX prism_server_files_blob ON prism_server_files (project, sha256);
""")]


def _pg(sql: str) -> bytes:
    """`?` placeholders as psycopg's `%s` (the shared SQL holds no other `?` or `%`)."""
    return sql.replace("?", "%s").encode()


class _Connection:
    """A Runner over one connection (inside a transaction, or borrowed for one statement)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        return [tuple(row) for row in self._conn.execute(_pg(sql), params).fetchall()]

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> int:
        return self._conn.execute(_pg(sql), params).rowcount


class _Pooled:
    """A Runner that borrows a pooled autocommit connection for each statement."""

    def __init__(self, store: PostgresServerStore) -> None:
        self._store = store

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        with self._store.connection() as conn:
            return _Connection(conn).query(sql, params)

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> int:
        with self._store.connection() as conn:
            return _Connection(conn).execute(sql, params)


class PostgresServerStore(ServerTables):
    """The ServerStore in a PostgreSQL database that every replica shares."""

    backend = "postgresql"

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]], *, owns_pool: bool = False) -> None:
        self.pool = pool
        self._url = pool.conninfo if isinstance(pool.conninfo, str) else pool.conninfo()
        self._owns_pool = owns_pool
        self._where = f"{pool.name or 'PostgreSQL'} (server store)"
        self._runner = _Pooled(self)
        self._dialect = POSTGRES
        migrate(pool, self._where, MIGRATIONS, table="prism_server_schema", lock=SCHEMA_LOCK)

    @classmethod
    def connect(cls, url: str, *, max_size: int = POOL_SIZE) -> PostgresServerStore:
        """A store with its own pool; a bad URL is a ConfigError, an unreachable server a BackendUnavailableError."""
        return cls(open_pool(url, max_size=max_size), owns_pool=True)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; PostgreSQL's failures as PrismErrors."""
        with self._errors(), self.pool.connection() as conn:
            yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        with prism_errors(self._where):
            try:
                yield
            except psycopg.DatabaseError as exc:
                if isinstance(exc, psycopg.OperationalError):
                    raise  # prism_errors names it
                raise BackendUnavailableError(f"The server store {self._where} failed: {exc}.",
                                              hint="Check the PostgreSQL server's log.", value=self._where) from exc

    @contextmanager
    def _transaction(self, serialise_keys: bool) -> Iterator[_Connection]:
        with self.connection() as conn, conn.transaction():
            if serialise_keys:  # EXCLUSIVE lets plain reads (authentication) through
                conn.execute(_pg(self._sql("LOCK TABLE {keys} IN EXCLUSIVE MODE")))
            yield _Connection(conn)

    def index_state(self, name: str) -> GenerationRow | None:
        rows = self._runner.query(self._sql("SELECT started, completed, phase FROM {projects} WHERE name = ? "
                                            "AND started IS NOT NULL"), (name,))
        return None if not rows else (int(str(rows[0][0])), int(str(rows[0][1])), str(rows[0][2]))

    def set_index_state(self, name: str, state: GenerationRow) -> None:
        self._runner.execute(self._sql("UPDATE {projects} SET started = ?, completed = ?, phase = ? WHERE name = ?"),
                             (*state, name))

    @contextmanager
    def project_lock(self, name: str, wait_s: float) -> Iterator[bool]:
        # A connection of its own, outside the pool: held for a whole index request, and closed
        # (lock released) by PostgreSQL if this process dies. Only the locking is this store's:
        # errors from the block are the block's own.
        with self._errors():
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        try:
            with self._errors():
                held = self._try_lock(conn, name, time.monotonic() + wait_s)
            if not held:
                yield False
                return
            try:
                yield True
            finally:
                with self._errors():
                    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (PROJECT_LOCKS, name))
        finally:
            conn.close()

    @staticmethod
    def _try_lock(conn: psycopg.Connection[Any], name: str, deadline: float) -> bool:
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (PROJECT_LOCKS, name)).fetchone()
            if row is not None and row[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(LOCK_POLL_S)

    def project_files(self, folder: Path) -> ProjectFiles:
        from prism.serve.http.files_postgres import PostgresFiles

        return PostgresFiles(self, folder)

    @property
    def version(self) -> int:
        row = self._runner.query("SELECT MAX(version) FROM prism_server_schema")[0]
        return int(str(row[0] or 0))

    @property
    def is_current(self) -> bool:
        return self.version == max(v for v, _ in MIGRATIONS)

    def ping(self) -> bool:
        try:
            self._runner.query("SELECT 1")
        except BackendUnavailableError:
            return False
        return True

    def close(self) -> None:
        if self._owns_pool and not self.pool.closed:
            self.pool.close()
