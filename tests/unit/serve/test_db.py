"""ServerDB: migrations run once even when several worker processes open a new database together."""

from __future__ import annotations

import threading
from pathlib import Path

from prism.serve.http.db import MIGRATIONS, ServerDB


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
