"""A database a killed process left with a hot rollback journal is still inspectable: the
schema check at start, integrity checks and backups roll the journal back instead of failing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from prism.index.sqlite_db import copy_database_file, integrity_problems, is_aborted, schema_version

# Commits schema 2, then dies inside a transaction large enough to spill pages into the file.
KILLED_WRITER = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size=5")
conn.execute("CREATE TABLE t(a)")
conn.execute("PRAGMA user_version=2")
conn.execute("BEGIN")
conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(200000)])
conn.execute("PRAGMA user_version=3")
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_mid_write(path: Path) -> None:
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], check=False)
    assert Path(f"{path}-journal").stat().st_size > 0  # a hot journal is left behind
    try:  # what a plain read-only open makes of it
        sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute("PRAGMA user_version").fetchone()
    except sqlite3.OperationalError as exc:
        assert "readonly" in str(exc)


def test_schema_version_rolls_back_a_hot_journal(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    killed_mid_write(path)
    assert schema_version(path) == 2  # the committed schema, not the killed transaction's
    assert integrity_problems(path) == []
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    conn.close()


def test_a_backup_copy_of_a_killed_database_holds_what_was_committed(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    killed_mid_write(path)
    copy_database_file(path, tmp_path / "copy.db")
    assert schema_version(tmp_path / "copy.db") == 2


def test_an_fts5_scan_aborted_by_a_write_is_told_apart_from_a_lock(tmp_path: Path) -> None:
    """SQLITE_ABORT, as a real fts5vocab scan raises it when the full-text index changes under it,
    is the error `SqliteStore._vocab_rows` runs again; "database is locked" is not."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(f"w{i} common",) for i in range(500)])
    conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, t, row)")
    scan = conn.execute("SELECT term, doc FROM temp.v")
    scan.fetchone()
    conn.execute("INSERT INTO t VALUES ('fresh words')")  # the index's structure moves mid-scan
    with pytest.raises(sqlite3.OperationalError) as aborted:
        scan.fetchall()
    assert is_aborted(aborted.value)
    assert not is_aborted(sqlite3.OperationalError("database is locked"))
    conn.close()
