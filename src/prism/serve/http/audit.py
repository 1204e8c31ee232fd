"""AuditLog: an append-only record of who changed credentials or projects, when, from where.

Rows live in the server store (`audit_log` in SQLite, `prism_server_audit` in PostgreSQL), where
triggers refuse UPDATE and DELETE, so the log is kept wherever the store is (backups included).
A row names the principal (`key:<id>`, `jwt:<sub>`, `cli:<user>`), never a secret.
"""

from __future__ import annotations

import getpass
import json
import time
from dataclasses import dataclass
from typing import Literal

from prism.serve.http.server_store import ServerStore

Event = Literal["key.create", "key.rotate", "key.revoke", "key.edit", "token.revoke",
                "project.create", "project.delete", "server.migrate"]
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

    def __init__(self, store: ServerStore) -> None:
        self._store = store

    def record(self, actor: Actor, event: Event, target: str, details: dict[str, object] | None = None) -> None:
        self._store.append_audit(time.time(), actor.principal, event, target, actor.request_id, actor.address,
                                 json.dumps(details or {}, sort_keys=True))

    def read(self, limit: int = 100, before: int | None = None) -> list[dict[str, object]]:
        """Up to `limit` events, newest first; `before` (an event id) pages back."""
        rows = self._store.audit(max(1, min(limit, MAX_READ)), before)
        return [{"id": r[0], "at": r[1], "time": utc_iso(float(r[1])),  # type: ignore[arg-type]
                 "principal": r[2], "event": r[3], "target": r[4], "request_id": r[5], "address": r[6],
                 "details": json.loads(str(r[7]))} for r in rows]
