"""AuditLog: an append-only record of who changed credentials or projects, when, from where.

Rows live in the server database (`audit_log`), where triggers refuse UPDATE and DELETE, so
the log is kept wherever the database is (backups included). A row names the principal
(`key:<id>`, `jwt:<sub>`, `cli:<user>`), never a secret.
"""

from __future__ import annotations

import getpass
import json
import time
from dataclasses import dataclass
from typing import Literal

from prism.serve.http.db import ServerDB

Event = Literal["key.create", "key.rotate", "key.revoke", "key.edit", "token.revoke",
                "project.create", "project.delete"]
MAX_READ = 1000


@dataclass(frozen=True)
class Actor:
    """Who did it: a principal, and where the request came from (no request for the CLI)."""

    principal: str
    request_id: str | None = None
    address: str | None = None


def cli_actor() -> Actor:
    """The local operator running a `prism` command on the server's home."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (e.g. a container)
        user = "unknown"
    return Actor(f"cli:{user}", None, "local")


def utc_iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


class AuditLog:
    """Append events; read them newest first."""

    def __init__(self, db: ServerDB) -> None:
        self._db = db

    def record(self, actor: Actor, event: Event, target: str, details: dict[str, object] | None = None) -> None:
        self._db.execute(
            "INSERT INTO audit_log (at, principal, event, target, request_id, address, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (time.time(), actor.principal, event, target, actor.request_id, actor.address,
             json.dumps(details or {}, sort_keys=True)))

    def read(self, limit: int = 100, before: int | None = None) -> list[dict[str, object]]:
        """Up to `limit` events, newest first; `before` (an event id) pages back."""
        where, params = ("WHERE id < ?", (before,)) if before is not None else ("", ())
        rows = self._db.query(
            f"SELECT id, at, principal, event, target, request_id, address, details FROM audit_log {where} "
            "ORDER BY id DESC LIMIT ?", (*params, max(1, min(limit, MAX_READ))))
        return [{"id": r[0], "at": r[1], "time": utc_iso(float(r[1])),  # type: ignore[arg-type]
                 "principal": r[2], "event": r[3], "target": r[4], "request_id": r[5], "address": r[6],
                 "details": json.loads(str(r[7]))} for r in rows]
