"""Connections, transactions and migrations for the SQLite files of a project's store.

One way to open a file (WAL, busy timeout), one write transaction (`BEGIN IMMEDIATE`, commit
or roll back), one way to create and migrate a schema (numbered scripts, `user_version`), and
one place that turns SQLite's errors into `PrismError`s a user can act on.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from prism.errors import IndexCorruptError, IndexLockedError, NotWritableError
from prism.private_files import create_private_file

Migration = tuple[int, str]  # (version, SQL script); version 1 is the first


def connect_wal(path: Path, timeout_s: float = 30.0) -> sqlite3.Connection:
    """An autocommit connection to a WAL database, safe when several processes open it at once.

    Switching a new file to WAL needs a lock that SQLite does not wait for, so a burst of first
    opens (concurrent requests, a CLI beside an MCP server) retries instead of failing.
    """
    conn = sqlite3.connect(path, timeout=timeout_s, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.02)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing database in a folder this process cannot write.

    `mode=ro` still needs the WAL's shared-memory file; when SQLite cannot create it (a read-only
    PRISM_HOME), `immutable=1` reads the database file as it is, without locks.
    """
    uri = path.resolve().as_uri()
    for flags in ("mode=ro", "immutable=1"):
        conn = sqlite3.connect(f"{uri}?{flags}", uri=True, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            continue
        return conn
    raise sqlite3.OperationalError("unable to open database file")


def connect_to_inspect(path: Path) -> sqlite3.Connection:
    """A connection that reads an existing database file without writing to it (`mode=ro`),
    unless a process killed mid-write left a hot rollback journal: a read-only connection refuses
    that file ("attempt to write a readonly database"), so where this process may write, a normal
    connection rolls the journal back first, as the next writer would."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        if not writable(path):
            raise
    return sqlite3.connect(path)


def writable(path: Path) -> bool:
    """True when this process may write the file and create its -wal/-shm beside it."""
    return os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)


def is_busy(exc: sqlite3.Error) -> bool:
    """True for "database is locked/busy": another writer held the file past the busy timeout."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def is_aborted(exc: sqlite3.Error) -> bool:
    """True for SQLITE_ABORT ("query aborted"): FTS5 gives up a scan whose index structure changed
    under it (a commit landed mid-scan); a read that hit it can simply run again."""
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_ABORT or "query aborted" in str(exc).lower())


def _locked(path: Path, exc: sqlite3.Error) -> IndexLockedError:
    return IndexLockedError(
        f"The index at {path} stayed locked by another writer ({exc}).",
        hint="Wait for the other PRISM process to finish, then run the command again.", value=path)


def _corrupt(path: Path, exc: sqlite3.Error) -> IndexCorruptError:
    readable = os.access(path, os.R_OK) and os.access(path.parent, os.X_OK)
    return IndexCorruptError(
        f"The index at {path} cannot be read ({exc}).", value=path,
        hint="Run `prism forget` and `prism index` to rebuild it." if readable else
             "This user may not read it: check the permissions of the file and its folder.")


@contextmanager
def prism_errors(path: Path) -> Iterator[None]:
    """Turn SQLite's errors about the file at `path` into PrismErrors: a writer that held the
    lock past the busy timeout, a file that is not (or no longer) a database. Others pass."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if is_busy(exc):
            raise _locked(path, exc) from exc
        if type(exc) is sqlite3.DatabaseError:  # "file is not a database", "malformed"
            raise _corrupt(path, exc) from exc
        raise


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: committed when the block ends, rolled back when it raises.

    `BEGIN IMMEDIATE` takes the write lock up front, so two writers wait for each other
    instead of failing when one upgrades a read.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")  # a COMMIT that fails (busy) rolls back too, leaving no transaction open
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back itself (a full disk, an interrupt)
            conn.execute("ROLLBACK")
        raise


def split_statements(script: str) -> Iterator[str]:
    """Split a SQL script into complete statements (comments and blank lines dropped)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration], path: Path, *,
            read_only: bool = False, what: str = "The index at",
            newer_hint: str = "Upgrade PRISM, or run `prism forget` and re-index.") -> None:
    """Apply the migrations newer than the file's `user_version`, once, even when several
    processes open a new file at the same time; a file from a newer PRISM is refused (`what`
    names the file, `newer_hint` says what to do), and so is an upgrade of a file this process
    may only read."""
    latest = max(version for version, _ in migrations)
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > latest:
        raise IndexCorruptError(f"{what} {path} was written by a newer PRISM (schema {current}).",
                                hint=newer_hint, value=path)
    if current == latest:
        return
    if read_only:
        raise NotWritableError(
            f"The index at {path} needs an upgrade (schema {current} → {latest}), but its folder "
            "is not writable.", hint="Run `prism index` once with write access to PRISM_HOME.", value=path)
    with transaction(conn):
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for version, sql in sorted(migrations):
            if version > current:
                # Statement by statement: executescript() would commit our transaction.
                for statement in split_statements(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version}")


def open_database(path: Path, migrations: Sequence[Migration], *, timeout_s: float = 30.0,
                  foreign_keys: bool = False, memory_if_unwritable: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) and migrate a WAL database; read-only when its folder is not
    writable (a read-only PRISM_HOME), so that read commands still work.

    `memory_if_unwritable` gives an empty in-memory database instead of failing when the file
    does not exist and cannot be created (a side file such as feedback.db).
    Raises IndexCorruptError when the file cannot be read as this schema, IndexLockedError
    when another writer holds it past the busy timeout.
    """
    read_only = path.exists() and not writable(path)
    conn: sqlite3.Connection | None = None
    try:
        if memory_if_unwritable and not path.exists() and path.parent.is_dir() \
                and not os.access(path.parent, os.W_OK):
            conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        elif read_only:
            conn = connect_read_only(path)
        else:
            create_private_file(path)  # an index holds the project's code: owner only
            conn = connect_wal(path, timeout_s)
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn, migrations, path, read_only=read_only)
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise (_locked(path, exc) if is_busy(exc) else _corrupt(path, exc)) from exc
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return conn


def copy_database(source: sqlite3.Connection, target: Path) -> None:
    """A consistent copy of `source` in the file `target` (SQLite's online backup API), taken
    in one step while other connections and processes keep reading and writing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()


def copy_database_file(source: Path, target: Path) -> None:
    """`copy_database` from a file path (read-only: the source file is left untouched, but for
    rolling back a crash's hot journal, see connect_to_inspect)."""
    with prism_errors(source):
        conn = connect_to_inspect(source)
    try:
        with prism_errors(source):
            copy_database(conn, target)
    finally:
        conn.close()


def integrity_problems(path: Path) -> list[str]:
    """What `PRAGMA integrity_check` finds wrong with the database file at `path` (empty when
    sound), read-only; a file that is not a database is one problem, not an exception."""
    try:
        conn = connect_to_inspect(path)
    except sqlite3.Error as exc:
        return [str(exc)]
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()
    return [] if rows == ["ok"] else rows


def schema_version(path: Path) -> int:
    """The `user_version` of the database file at `path`, read-only."""
    with prism_errors(path):
        conn = connect_to_inspect(path)
    try:
        with prism_errors(path):
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()
