"""AuditLog: events read back newest first, paged; the table refuses UPDATE and DELETE."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from prism.serve.http.audit import Actor, AuditLog, cli_actor
from prism.serve.http.db import ServerDB


def test_events_are_read_newest_first_and_paged(tmp_path: Path) -> None:
    log = AuditLog(ServerDB(tmp_path / "server.db"))
    for number in range(5):
        log.record(Actor("key:abc", f"req{number}", "10.0.0.1"), "key.create", f"k{number}", {"n": number})
    events = log.read(limit=2)
    assert [e["target"] for e in events] == ["k4", "k3"]
    assert events[0]["principal"] == "key:abc" and events[0]["request_id"] == "req4"
    assert events[0]["address"] == "10.0.0.1" and events[0]["details"] == {"n": 4}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(events[0]["time"]))
    older = log.read(limit=10, before=int(str(events[-1]["id"])))
    assert [e["target"] for e in older] == ["k2", "k1", "k0"]


def test_the_log_is_append_only(tmp_path: Path) -> None:
    db = ServerDB(tmp_path / "server.db")
    AuditLog(db).record(cli_actor(), "key.revoke", "k1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_log SET principal = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_log")
    event = AuditLog(db).read()[0]
    assert str(event["principal"]).startswith("cli:") and event["address"] == "local"
