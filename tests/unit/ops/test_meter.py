"""The meter: per-request tallies, batching that never fails an answer, the legacy usage import."""

from __future__ import annotations

import contextvars
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

from prism.ops.meter import (
    NONE,
    Cell,
    Meter,
    SqliteMeterBackend,
    begin_request,
    count,
    end_request,
    seconds_to_next_utc_day,
    utc_day,
)
from prism.serve.http.db import ServerDB


def test_count_adds_to_the_current_request_only_and_reaches_worker_threads() -> None:
    count("searches")  # outside a request: nothing to add to, no error
    tally, token = begin_request()
    context = contextvars.copy_context()  # as anyio runs a sync endpoint in a worker thread
    thread = threading.Thread(target=context.run, args=(count, "tokens_served", 40))
    thread.start()
    thread.join()
    count("searches")
    end_request(token)
    count("searches")
    assert tally == {"tokens_served": 40, "searches": 1}


class BrokenBackend:
    def __init__(self) -> None:
        self.fail = True
        self.added: list[Mapping[Cell, int]] = []

    def add(self, counts: Mapping[Cell, int]) -> None:
        if self.fail:
            raise sqlite3.OperationalError("database is locked")
        self.added.append(dict(counts))

    def rows(self, since_day: str, key: str | None = None) -> list[tuple[Cell, int]]:
        return [item for batch in self.added for item in batch.items()]

    def claim(self, token: str, ttl_s: int) -> bool:
        return True

    def close(self) -> None:
        pass


def test_a_failed_write_loses_nothing_and_raises_nothing(caplog: pytest.LogCaptureFixture) -> None:
    backend = BrokenBackend()
    meter = Meter(backend)
    meter.record("key:a", "p", "/r", {"requests": 1})
    meter.flush()  # fails: kept
    meter.record("key:a", "p", "/r", {"requests": 1})
    meter.flush()  # fails again: still kept, no second warning
    assert meter.used_today("requests") == 2
    assert [r.getMessage() for r in caplog.records].count("meter write failed, retrying every flush: "
                                                         "OperationalError") == 1
    backend.fail = False
    meter.flush()
    assert backend.added == [{Cell(utc_day(), "key:a", "p", "/r", "requests"): 2}]


def test_the_old_per_credential_counts_are_imported_once(tmp_path: Path) -> None:
    server_db = tmp_path / "server.db"
    db = ServerDB(server_db)
    with db.transaction() as conn:
        conn.execute("INSERT INTO usage (key_id, day, route, requests) VALUES ('key:a', '2026-11-30', '/r', 7)")
    db.close()
    first = SqliteMeterBackend(tmp_path / "meter.db", legacy_db=server_db)
    first.close()
    again = SqliteMeterBackend(tmp_path / "meter.db", legacy_db=server_db)  # a second worker, or a restart
    assert again.rows("2026-01-01") == [(Cell("2026-11-30", "key:a", NONE, "/r", "requests"), 7)]
    again.close()


def test_retry_after_is_the_next_utc_midnight() -> None:
    assert seconds_to_next_utc_day(1_700_000_000.0) == 86400 - 1_700_000_000 % 86400
    assert seconds_to_next_utc_day(86400.0 * 3) == 86400
