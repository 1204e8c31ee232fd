"""MeterBackend contract: SQLite (one host) and Redis (every replica) add, read and claim alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from prism.ops.meter import NONE, Cell, Meter, MeterBackend, RedisMeterBackend, SqliteMeterBackend, totals, utc_day


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MeterBackend]:
    made: MeterBackend
    if request.param == "sqlite":
        made = SqliteMeterBackend(tmp_path / "meter.db")
    else:
        made = RedisMeterBackend(request.getfixturevalue("redis_url"), prefix=f"test:{uuid.uuid4().hex}:")
    yield made
    made.close()


def test_adds_accumulate_per_cell_and_read_back_by_key(backend: MeterBackend) -> None:
    today = utc_day()
    search = Cell(today, "key:a", "demo", "/api/v1/projects/{project}/search", "searches")
    backend.add({search: 2, Cell(today, "key:b", NONE, "/health", "requests"): 1})
    backend.add({search: 3})
    assert dict(backend.rows(today)) == {search: 5, Cell(today, "key:b", NONE, "/health", "requests"): 1}
    assert backend.rows(today, key="key:a") == [(search, 5)]
    assert backend.rows(today, key="key:nobody") == []


def test_rows_since_a_day_leave_out_older_days(backend: MeterBackend) -> None:
    today, old = utc_day(), "2020-01-01"
    backend.add({Cell(today, "key:a", "p", "/r", "requests"): 1})
    if isinstance(backend, SqliteMeterBackend):  # Redis reads day by day from `since`; 2020 would be 2,000 reads
        backend.add({Cell(old, "key:a", "p", "/r", "requests"): 7})
        assert sum(n for _, n in backend.rows(old)) == 8
    assert [n for _, n in backend.rows(today)] == [1]


def test_a_claim_is_granted_once(backend: MeterBackend) -> None:
    token = f"quota:{uuid.uuid4().hex}"
    assert backend.claim(token, 60) is True
    assert backend.claim(token, 60) is False


def test_two_meters_on_one_backend_see_each_others_counts_after_a_flush(backend: MeterBackend) -> None:
    """Two meters stand for two worker processes."""
    first, second = Meter(backend, flush_every_s=3600), Meter(backend, flush_every_s=3600)
    first.record("key:a", "demo", "/s", {"searches": 2, "requests": 2})
    second.record("key:a", "other", "/s", {"searches": 1, "requests": 1})
    assert first.used_today("searches", key="key:a") == 2  # its own pending counts, at once
    first.flush()
    second.flush()
    first.flush()  # reads the totals again
    assert first.used_today("searches", key="key:a") == 3
    assert first.used_today("searches", project="demo") == 2
    assert first.used_today("searches") == 3
    grouped = totals(first.rows(utc_day()), ("project",))
    assert grouped[("demo",)]["requests"] == 2 and grouped[("other",)]["searches"] == 1
