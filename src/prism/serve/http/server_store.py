"""ServerStore: the contract for the server's own data (keys, JWT deny list, projects and their index
generations, audit log), with the SQL both backends share; `open_server_store` picks the backend.

The embedded default is PRISM_HOME/server/server.db (`db.ServerDB`); with PRISM_DATABASE_URL set
it is that PostgreSQL database (`server_postgres.PostgresServerStore`), so every replica on any
host reads the same keys and projects. Nothing is cached per process: every request reads the
row, so a revoke on one replica is refused by the next request on any other.

The SQL is written once, with `?` placeholders and `{table}` names that each backend fills in
(`Dialect`); a backend only supplies how a statement runs (`Runner`), a transaction that can
serialise key changes across processes (`_transaction`), and where index generations and
project writer locks live. Rows are plain tuples in a fixed column order (`KEY_COLUMNS`,
`PROJECT_COLUMNS`, `AUDIT_COLUMNS`); keys.py, projects.py and audit.py turn them into records.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from prism.serve.http.generations import GenerationRow

if TYPE_CHECKING:
    from prism.serve.http.uploads import ProjectFiles

Row = tuple[object, ...]
KEY_COLUMNS = ("key_id", "name", "role", "projects", "created_at", "expires_at", "last_used_at", "revoked_at",
               "actions", "description")
_KEY_WRITABLE = frozenset({*KEY_COLUMNS, "key_hash", "rotated_to"})
PROJECT_COLUMNS = ("name", "kind", "root", "index_dir", "created_at")
AUDIT_COLUMNS = ("id", "at", "principal", "event", "target", "request_id", "address", "details")
# Stands in for the hash of a key id that does not exist (no HMAC can equal it).
ABSENT_HASH = "0" * 64


@dataclass(frozen=True)
class Dialect:
    """What differs between the backends' SQL: table names and the two-argument maximum."""

    keys: str
    revoked_tokens: str
    projects: str
    audit: str
    greatest: str

    def sql(self, template: str) -> str:
        return template.format(keys=self.keys, revoked=self.revoked_tokens, projects=self.projects,
                               audit=self.audit, greatest=self.greatest)


SQLITE = Dialect("api_keys", "revoked_tokens", "projects", "audit_log", "MAX")


class Runner(Protocol):
    """Runs one statement (`?` placeholders): rows for a query, the changed-row count for a write."""

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]: ...

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> int: ...


class KeyTable:
    """The API keys, read and written through one runner (autocommit, or one transaction)."""

    def __init__(self, runner: Runner, dialect: Dialect) -> None:
        self._run = runner
        self._d = dialect
        self._columns = ", ".join(KEY_COLUMNS)

    def key(self, key_id: str) -> Row | None:
        rows = self._run.query(self._d.sql(f"SELECT {self._columns} FROM {{keys}} WHERE key_id = ?"), (key_id,))
        return rows[0] if rows else None

    def keys(self, include_revoked: bool = False) -> list[Row]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        return self._run.query(self._d.sql(f"SELECT {self._columns} FROM {{keys}} {where} "
                                           "ORDER BY created_at, key_id"))

    def add_key(self, values: Mapping[str, object]) -> None:
        """Insert a key row (every column of KEY_COLUMNS, and key_hash)."""
        names = [name for name in values if name in _KEY_WRITABLE]
        assert len(names) == len(values), sorted(set(values) - _KEY_WRITABLE)
        self._run.execute(self._d.sql(f"INSERT INTO {{keys}} ({', '.join(names)}) "
                                      f"VALUES ({', '.join('?' for _ in names)})"),
                          tuple(values[name] for name in names))

    def update_key(self, key_id: str, values: Mapping[str, object], *, only_active: bool = False) -> int:
        """Change columns of one key (only while it is not revoked, with `only_active`); rows changed."""
        assert values and set(values) <= _KEY_WRITABLE, sorted(values)
        sets = ", ".join(f"{name} = ?" for name in values)
        where = " AND revoked_at IS NULL" if only_active else ""
        return self._run.execute(self._d.sql(f"UPDATE {{keys}} SET {sets} WHERE key_id = ?{where}"),
                                 (*values.values(), key_id))


class ServerStore(Protocol):
    """The server's own data, whichever database holds it (see the module docstring)."""

    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        ...

    @property
    def is_current(self) -> bool:
        """Every migration this PRISM knows has been applied."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...

    # keys
    def key(self, key_id: str) -> Row | None: ...

    def keys(self, include_revoked: bool = False) -> list[Row]: ...

    def key_with_hash(self, key_id: str) -> tuple[str, Row | None]:
        """The stored hash (ABSENT_HASH for an unknown id) and the row, in one round trip."""
        ...

    def add_key(self, values: Mapping[str, object]) -> None: ...

    def update_key(self, key_id: str, values: Mapping[str, object], *, only_active: bool = False) -> int: ...

    def keys_transaction(self) -> AbstractContextManager[KeyTable]:
        """One transaction over the keys that no other key change interleaves with (every replica)."""
        ...

    def revoke_token(self, jti: str, now: float, forget_after: float) -> None: ...

    def token_revoked(self, jti: str) -> bool: ...

    def export_keys(self) -> list[dict[str, object]]:
        """Every key, revoked ones too, with its hash and successor (every writable column): for
        `prism migrate --server`, which hands each to another store's `add_key`."""
        ...

    def revoked_tokens(self) -> list[Row]:
        """The JWT deny list: (jti, revoked_at, forget_after) rows."""
        ...

    def active_keys(self) -> list[dict[str, object]]: ...

    # projects
    def add_project(self, row: Row) -> bool:
        """Insert a project row (PROJECT_COLUMNS); False when the name is taken."""
        ...

    def project(self, name: str) -> Row | None: ...

    def projects(self) -> list[Row]: ...

    def delete_project(self, name: str) -> None:
        """Remove the project's row and its index generations."""
        ...

    def index_state(self, name: str) -> GenerationRow | None:
        """The project's index generations (started, completed, phase); None when none are recorded."""
        ...

    def set_index_state(self, name: str, state: GenerationRow) -> None: ...

    def project_lock(self, name: str, wait_s: float) -> AbstractContextManager[bool]:
        """Hold the project's writer lock (True) for the block, or False when another holder kept it
        `wait_s`; released when its holder's process (or connection) dies."""
        ...

    def project_files(self, folder: Path) -> ProjectFiles:
        """Where uploaded projects' files live; `folder` (PRISM_HOME/server/files) holds this host's
        copies (the files themselves, embedded)."""
        ...

    # audit
    def append_audit(self, at: float, principal: str, event: str, target: str, request_id: str | None,
                     address: str | None, details: str) -> None: ...

    def audit(self, limit: int, before: int | None = None) -> list[Row]: ...

    def counts(self) -> dict[str, int]: ...


class ServerTables:
    """The ServerStore operations in shared SQL; a backend gives `_runner`, `_dialect` and `keys_transaction`."""

    _runner: Runner
    _dialect: Dialect

    def _sql(self, template: str) -> str:
        return self._dialect.sql(template)

    def _keys(self) -> KeyTable:
        return KeyTable(self._runner, self._dialect)

    def key(self, key_id: str) -> Row | None:
        return self._keys().key(key_id)

    def keys(self, include_revoked: bool = False) -> list[Row]:
        return self._keys().keys(include_revoked)

    def key_with_hash(self, key_id: str) -> tuple[str, Row | None]:
        # A LEFT JOIN from a one-row table: one row whether or not the key exists.
        columns = ", ".join(f"k.{name}" for name in KEY_COLUMNS)
        row = self._runner.query(self._sql(f"SELECT COALESCE(k.key_hash, ?), {columns} FROM (SELECT 1 AS one) o "
                                           "LEFT JOIN {keys} k ON k.key_id = ?"), (ABSENT_HASH, key_id))[0]
        return str(row[0]), (None if row[1] is None else row[1:])

    def add_key(self, values: Mapping[str, object]) -> None:
        self._keys().add_key(values)

    def update_key(self, key_id: str, values: Mapping[str, object], *, only_active: bool = False) -> int:
        return self._keys().update_key(key_id, values, only_active=only_active)

    def revoke_token(self, jti: str, now: float, forget_after: float) -> None:
        with self._transaction(serialise_keys=False) as run:
            run.execute(self._sql("DELETE FROM {revoked} WHERE forget_after < ?"), (now,))
            run.execute(self._sql(
            "INSERT INTO {revoked} (jti, revoked_at, forget_after) VALUES (?, ?, ?) ON CONFLICT (jti) "
                "DO UPDATE SET forget_after = {greatest}({revoked}.forget_after, excluded.forget_after)"),
                (jti, now, forget_after))

    def token_revoked(self, jti: str) -> bool:
        return bool(self._runner.query(self._sql("SELECT 1 FROM {revoked} WHERE jti = ?"), (jti,)))

    def export_keys(self) -> list[dict[str, object]]:
        names = (*KEY_COLUMNS, "key_hash", "rotated_to")
        rows = self._runner.query(self._sql(f"SELECT {', '.join(names)} FROM {{keys}} ORDER BY created_at, key_id"))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def revoked_tokens(self) -> list[Row]:
        return self._runner.query(self._sql("SELECT jti, revoked_at, forget_after FROM {revoked} ORDER BY jti"))

    def active_keys(self) -> list[dict[str, object]]:
        """Keys not revoked: id, name, created, expiry and last use (for the monthly review)."""
        names = ("key_id", "name", "created_at", "expires_at", "last_used_at")
        rows = self._runner.query(self._sql(f"SELECT {', '.join(names)} FROM {{keys}} WHERE revoked_at IS NULL "
                                            "ORDER BY created_at, key_id"))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def add_project(self, row: Row) -> bool:
        assert len(row) == len(PROJECT_COLUMNS)
        return self._runner.execute(self._sql(f"INSERT INTO {{projects}} ({', '.join(PROJECT_COLUMNS)}) "
                                              "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING"), row) == 1

    def project(self, name: str) -> Row | None:
        rows = self._runner.query(self._sql(f"SELECT {', '.join(PROJECT_COLUMNS)} FROM {{projects}} "
                                            "WHERE name = ?"), (name,))
        return rows[0] if rows else None

    def projects(self) -> list[Row]:
        return self._runner.query(self._sql(f"SELECT {', '.join(PROJECT_COLUMNS)} FROM {{projects}} ORDER BY name"))

    def delete_project(self, name: str) -> None:
        self._runner.execute(self._sql("DELETE FROM {projects} WHERE name = ?"), (name,))

    def append_audit(self, at: float, principal: str, event: str, target: str, request_id: str | None,
                     address: str | None, details: str) -> None:
        self._runner.execute(self._sql("INSERT INTO {audit} (at, principal, event, target, request_id, address, "
                                       "details) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                             (at, principal, event, target, request_id, address, details))

    def audit(self, limit: int, before: int | None = None) -> list[Row]:
        where, params = ("WHERE id < ?", (before,)) if before is not None else ("", ())
        return self._runner.query(self._sql(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {{audit}} {where} "
                                            "ORDER BY id DESC LIMIT ?"), (*params, limit))

    def counts(self) -> dict[str, int]:
        """Rows a backup must carry: keys, projects, audit events."""
        tables = {"keys": "{keys}", "projects": "{projects}", "audit_events": "{audit}"}
        return {name: int(self._runner.query(self._sql(f"SELECT COUNT(*) FROM {table}"))[0][0])  # type: ignore[call-overload]
                for name, table in tables.items()}

    @contextmanager
    def keys_transaction(self) -> Iterator[KeyTable]:
        with self._transaction(serialise_keys=True) as run:
            yield KeyTable(run, self._dialect)

    def _transaction(self, serialise_keys: bool) -> AbstractContextManager[Runner]:
        """One transaction (committed at the end, rolled back on an error); with `serialise_keys`, no
        other key change in any process runs until it ends."""
        raise NotImplementedError


def open_server_store(folder: Path, database_url: str | None = None) -> ServerStore:
    """PostgreSQL when `database_url` (PRISM_DATABASE_URL) is set, else `folder`/server.db."""
    if database_url:
        from prism.serve.http.server_postgres import PostgresServerStore

        return PostgresServerStore.connect(database_url)
    from prism.serve.http.db import ServerDB

    return ServerDB(folder / "server.db")
