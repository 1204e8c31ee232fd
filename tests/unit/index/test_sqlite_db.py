"""Tests for prism.index.sqlite_db: one write transaction, numbered migrations, SQLite errors as PrismErrors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from prism.errors import IndexCorruptError, IndexLockedError
from prism.index.sqlite_db import connect_wal, open_database, prism_errors, transaction

MIGRATIONS = [(1, "CREATE TABLE t (x INTEGER);\n-- a comment\nINSERT INTO t VALUES (1);"),
              (2, "ALTER TABLE t ADD COLUMN y TEXT;")]


def test_a_transaction_commits_or_leaves_nothing(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "a.db", MIGRATIONS)
    with transaction(conn):
        conn.execute("INSERT INTO t(x) VALUES (2)")
    with pytest.raises(RuntimeError), transaction(conn):
        conn.execute("INSERT INTO t(x) VALUES (3)")
        raise RuntimeError("mid-batch")
    assert [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")] == [1, 2]
    conn.close()


def test_a_commit_that_fails_rolls_back_and_leaves_no_transaction_open(tmp_path: Path) -> None:
    """Every hand-written BEGIN IMMEDIATE … COMMIT of the server went through this helper: a failed
    COMMIT (here a deferred foreign key; on a busy file, a lock) must not leave the connection inside
    a transaction that the next write would join."""
    conn = connect_wal(tmp_path / "x.db")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE c (p INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), transaction(conn) as tx:
        tx.execute("INSERT INTO c VALUES (1)")  # checked only at COMMIT
    assert not conn.in_transaction and conn.execute("SELECT COUNT(*) FROM c").fetchone()[0] == 0
    with transaction(conn) as tx:
        tx.execute("INSERT INTO p VALUES (1)")
    assert conn.execute("SELECT COUNT(*) FROM p").fetchone()[0] == 1
    conn.close()


def test_migrations_run_once_and_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    open_database(path, MIGRATIONS[:1]).close()
    conn = open_database(path, MIGRATIONS)  # only 2 runs: 1's INSERT is not repeated
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
    with pytest.raises(IndexCorruptError, match="newer PRISM") as caught:
        open_database(path, MIGRATIONS[:1])
    assert "Upgrade PRISM" in caught.value.hint


def test_a_file_that_is_not_a_database_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    path.write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(IndexCorruptError, match="cannot be read") as caught:
        open_database(path, MIGRATIONS)
    assert "prism forget" in caught.value.hint and caught.value.value == path


def test_a_writer_holding_the_lock_past_the_timeout_is_index_locked(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    holder = open_database(path, MIGRATIONS)
    holder.execute("BEGIN IMMEDIATE")
    waiting = connect_wal(path, timeout_s=0.05)
    with pytest.raises(IndexLockedError, match="locked") as caught, prism_errors(path), transaction(waiting):
        pass
    assert "run the command again" in caught.value.hint
    with pytest.raises(sqlite3.IntegrityError), prism_errors(path):  # a bug, not the file: unchanged
        raise sqlite3.IntegrityError("UNIQUE constraint failed")
    holder.execute("ROLLBACK")
    holder.close()
    waiting.close()
