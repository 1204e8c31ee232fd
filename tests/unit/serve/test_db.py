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
