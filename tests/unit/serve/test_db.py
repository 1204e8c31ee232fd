"""ServerDB: migrations run once even when several worker processes open a new database together."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from prism.serve.http.db import MIGRATIONS, ServerDB, statements
from prism.serve.http.scopes import ROLE_ACTIONS, SPENDING
from prism.serve.http.settings import ROLES


def open_together(path: Path, count: int) -> tuple[list[ServerDB], list[BaseException]]:
    """Open `count` connections to one new database at the same moment, as worker processes do."""
    barrier = threading.Barrier(count)
    opened: list[ServerDB] = []
    errors: list[BaseException] = []

    def open_db() -> None:
        barrier.wait()
        try:
            opened.append(ServerDB(path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_db) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return opened, errors


def test_workers_opening_a_new_database_together_migrate_it_once(tmp_path: Path) -> None:
    for attempt in range(5):
        opened, errors = open_together(tmp_path / str(attempt) / "server.db", 6)
        assert errors == []
        assert all(db.version == len(MIGRATIONS) for db in opened)
        opened[0].execute("INSERT INTO projects VALUES ('p', 'upload', '/r', '/i', 1.0)")
        assert all(db.query("SELECT name FROM projects") == [("p",)] for db in opened)  # one shared state
        for db in opened:
            db.close()


def test_keys_made_before_actions_keep_exactly_their_role_s_rights(tmp_path: Path) -> None:
    """Migration 2 gives each existing key its role's preset (and no more)."""
    path = tmp_path / "server.db"
    conn = sqlite3.connect(path)
    for statement in statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    for role in ROLES:
        conn.execute("INSERT INTO api_keys (key_id, name, role, projects, key_hash, created_at) "
                     "VALUES (?, ?, ?, '[\"*\"]', 'h', 1.0)", (role[:1] * 12, role, role))
    conn.commit()
    conn.close()
    db = ServerDB(path)
    assert db.is_current
    rows = dict(db.query("SELECT role, actions FROM api_keys"))
    # the presets as they were: actions added later (`ask`) do not widen keys stored before them
    assert {role: frozenset(json.loads(str(rows[role]))) for role in ROLES} == {
        role: actions - SPENDING for role, actions in ROLE_ACTIONS.items()}
    assert "ask" in ROLE_ACTIONS["admin"] and "ask" not in json.loads(str(rows["admin"]))


def test_a_database_from_a_newer_prism_is_refused(tmp_path: Path) -> None:
    import pytest

    from prism.errors import IndexCorruptError

    path = tmp_path / "server.db"
    ServerDB(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(IndexCorruptError, match="newer PRISM") as caught:
        ServerDB(path)
    assert "restore a backup" in caught.value.hint


def test_move_home_points_projects_at_the_new_home(tmp_path: Path) -> None:
    db = ServerDB(tmp_path / "server.db")
    old, new = tmp_path / "old", tmp_path / "new"
    db.execute("INSERT INTO projects VALUES (?, ?, ?, ?, ?)",
               ("up", "upload", str(old / "server/files/up"), str(old / "server/indexes/up"), 1.0))
    db.execute("INSERT INTO projects VALUES (?, ?, ?, ?, ?)",
               ("path", "path", "/srv/code", str(old / "server/indexes/path"), 1.0))
    assert db.move_home(old, new) == 2
    rows = dict((str(r[0]), (r[1], r[2])) for r in db.query("SELECT name, root, index_dir FROM projects"))
    assert rows["up"] == (str(new / "server/files/up"), str(new / "server/indexes/up"))
    assert rows["path"] == ("/srv/code", str(new / "server/indexes/path"))  # a server path stays
    db.close()
