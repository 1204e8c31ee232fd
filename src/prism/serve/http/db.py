"""ServerDB: the server's own SQLite database (keys, projects, usage, secrets, audit log), with migrations.

The embedded ServerStore (server_store.py holds the contract and the SQL it shares with
PostgreSQL). This is server state, separate from every project index: it lives at
PRISM_HOME/server/server.db. One connection per process, guarded by a lock; every statement is
short, and every read sees the latest commit of any process (WAL, autocommit), so worker processes
share keys and projects without caching them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from prism.errors import IndexCorruptError
from prism.index.sqlite_db import connect_wal, copy_database, migrate, split_statements, transaction
from prism.serve.home import create_private_file
from prism.serve.http.generations import FileGenerations, GenerationRow
from prism.serve.http.server_store import SQLITE, Row, ServerTables
from prism.serve.http.uploads import FolderFiles, ProjectFiles

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
        projects TEXT NOT NULL,          -- JSON list of project names, or ["*"]
        key_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL,
        last_used_at REAL,
        revoked_at REAL,
        rotated_to TEXT
    );
    CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('upload', 'path')),
        root TEXT NOT NULL,
        index_dir TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE usage (
        key_id TEXT NOT NULL,
        day TEXT NOT NULL,
        route TEXT NOT NULL,
        requests INTEGER NOT NULL,
        PRIMARY KEY (key_id, day, route)
    );
    CREATE TABLE stored_secrets (
        name TEXT PRIMARY KEY,
        ciphertext TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    # Keys scoped by action: existing rows get their role's preset (as the presets were when
    # actions came in; a later change of presets must not widen old keys). The JWT deny list.
    # The audit log, which triggers make append-only.
    """
    ALTER TABLE api_keys ADD COLUMN actions TEXT NOT NULL DEFAULT '[]';  -- JSON list of actions
    ALTER TABLE api_keys ADD COLUMN description TEXT NOT NULL DEFAULT '';
    UPDATE api_keys SET actions = CASE role
        WHEN 'reader' THEN '["projects.read", "search", "context", "code.read"]'
        WHEN 'writer' THEN '["projects.read", "search", "context", "code.read", "index.write"]'
        ELSE '["projects.read", "search", "context", "code.read", "index.write", "projects.manage",
               "keys.manage", "usage.read", "metrics.read", "audit.read"]' END;
    CREATE TABLE revoked_tokens (
        jti TEXT PRIMARY KEY,
        revoked_at REAL NOT NULL,
        forget_after REAL NOT NULL       -- every token with this jti has expired by then
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,                -- Unix time (UTC)
        principal TEXT NOT NULL,         -- key:<id>, jwt:<sub>, cli:<user>; never a secret
        event TEXT NOT NULL,
        target TEXT NOT NULL,
        request_id TEXT,
        address TEXT,
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
)


def statements(script: str) -> list[str]:
    """A script's statements, whole: a trigger body's `;` does not end its CREATE TRIGGER."""
    return list(split_statements(script))


class _Connection:
    """A Runner over the connection inside one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        return [tuple(row) for row in self._conn.execute(sql, params).fetchall()]

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> int:
        return self._conn.execute(sql, params).rowcount


class ServerDB(ServerTables):
    """The server database: `execute` and `transaction` under one lock; migrations at open."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._runner = self
        self._dialect = SQLITE
        self._generations = FileGenerations(path.parent / "state")
        create_private_file(path)  # 0600; SQLite gives -wal and -shm the same mode
        self._lock = threading.RLock()
        try:
            self._conn = connect_wal(path, timeout_s=5.0)
            self._conn.execute("PRAGMA synchronous=FULL")  # rare writes; a revoke must survive a power cut
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"The server database {path} cannot be opened: {exc}.",
                                    hint="Restore it from a backup or move it aside.", value=path) from exc

    @property
    def version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @property
    def is_current(self) -> bool:
        return self.version == len(MIGRATIONS)

    def _migrate(self) -> None:
        """Apply pending migrations under the write lock (sqlite_db.migrate): worker processes open
        the database at the same moment, and each migration runs once, whoever gets there first."""
        with self._lock:
            migrate(self._conn, list(enumerate(MIGRATIONS, start=1)), self.path, what="The server database",
                    newer_hint="Upgrade PRISM, or restore a backup taken with this version.")

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return [tuple(row) for row in self._conn.execute(sql, params).fetchall()]

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> int:
        """Run one write; returns the number of rows changed."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    @contextmanager
    def _transaction(self, serialise_keys: bool) -> Iterator[_Connection]:
        # BEGIN IMMEDIATE takes the write lock: every write, key changes included, is serialised.
        with self.transaction() as conn:
            yield _Connection(conn)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, transaction(self._conn) as conn:
            yield conn

    def delete_project(self, name: str) -> None:
        super().delete_project(name)
        self._generations.forget(name)

    def index_state(self, name: str) -> GenerationRow | None:
        return self._generations.read(name)

    def set_index_state(self, name: str, state: GenerationRow) -> None:
        self._generations.write(name, state)

    def project_lock(self, name: str, wait_s: float) -> AbstractContextManager[bool]:
        return self._generations.lock(name, wait_s)

    def project_files(self, folder: Path) -> ProjectFiles:
        return FolderFiles(folder)

    def backup(self, target: Path) -> None:
        """A consistent copy in the file `target` (SQLite's backup API), while others write."""
        with self._lock:
            copy_database(self._conn, target)

    def counts(self) -> dict[str, int]:
        """Rows a backup must carry: keys, projects, audit events, stored (encrypted) secrets."""
        secrets = int(self.query("SELECT COUNT(*) FROM stored_secrets")[0][0])  # type: ignore[call-overload]
        return {**super().counts(), "stored_secrets": secrets}

    def move_home(self, old: Path, new: Path) -> int:
        """Point projects stored under the PRISM home `old` at the same place under `new` (after
        a restore into another home); returns how many rows changed."""
        changed = 0
        with self.transaction() as conn:
            rows = conn.execute("SELECT name, root, index_dir FROM projects").fetchall()
            for name, root, index_dir in rows:
                moved = [str(new / Path(p).relative_to(old)) if Path(p).is_relative_to(old) else p
                         for p in (root, index_dir)]
                if moved != [root, index_dir]:
                    conn.execute("UPDATE projects SET root = ?, index_dir = ? WHERE name = ?", (*moved, name))
                    changed += 1
        return changed

    def ping(self) -> bool:
        try:
            self.query("SELECT 1")
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()
