"""UsageCounter: batches reach the shared database on their own, so any worker's report includes them."""

from __future__ import annotations

from pathlib import Path

from prism.serve.http.db import ServerDB
from prism.serve.http.state import UsageCounter


def test_usage_batches_are_written_without_a_report(tmp_path: Path) -> None:
    """Two counters on two connections stand for two worker processes."""
    path = tmp_path / "server.db"
    busy = UsageCounter(ServerDB(path), flush_every_s=0.0)  # every request is past the flush interval
    other = UsageCounter(ServerDB(path), flush_every_s=3600.0)
    busy.record("key:a", "/api/v1/projects")
    busy.record("key:a", "/api/v1/projects")
    other.record("key:b", "/api/v1/projects")  # pending in its own process until its interval passes
    rows = other.report("key:a")
    assert [(r["principal"], r["requests"]) for r in rows] == [("key:a", 2)]
    assert [r["requests"] for r in busy.report("key:b")] == [1]  # `other` flushed when it reported
