"""ServerState: the objects one server process shares (settings, database, keys, projects, limiter).

Routes and the auth dependency reach it through `request.app.state.prism`; tests build one
with a temporary PRISM_HOME and a fake clock where they need one.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from prism.config import Settings
from prism.serve.http.audit import AuditLog
from prism.serve.http.db import ServerDB
from prism.serve.http.keys import KeyStore
from prism.serve.http.limits import Rate, RateLimiter
from prism.serve.http.projects import ProjectRegistry
from prism.serve.http.settings import ROLES, Role, ServerSettings
from prism.serve.secrets import SecretBox


@dataclass
class Readiness:
    """What /ready reports: each check's state, set by the startup thread."""

    checks: dict[str, str] = field(default_factory=lambda: {"database": "pending", "model": "pending"})

    @property
    def ready(self) -> bool:
        return all(value == "ok" for value in self.checks.values())


class UsageCounter:
    """Requests per (principal, day, route), kept in memory and written to the database in batches.

    A batch is written on a report, at shutdown, and by the first request `flush_every_s` after
    the last write, so a report served by one worker process includes the other workers' counts
    up to that delay (a worker that gets no requests writes its batch at shutdown).
    """

    def __init__(self, db: ServerDB, flush_every_s: float = 5.0) -> None:
        self._db = db
        self._pending: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._flush_every_s = flush_every_s
        self._next_flush = time.monotonic() + flush_every_s

    def record(self, principal: str, route: str) -> None:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        now = time.monotonic()
        with self._lock:
            self._pending[(principal, day, route)] += 1
            due = now >= self._next_flush
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._next_flush = time.monotonic() + self._flush_every_s
        if not pending:
            return
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO usage (key_id, day, route, requests) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key_id, day, route) DO UPDATE SET requests = requests + excluded.requests",
                [(k, d, r, n) for (k, d, r), n in pending.items()])

    def report(self, principal: str | None = None) -> list[dict[str, object]]:
        self.flush()
        where, params = ("WHERE key_id = ?", (principal,)) if principal else ("", ())
        rows = self._db.query(f"SELECT key_id, day, route, requests FROM usage {where} "
                              "ORDER BY day DESC, key_id, route LIMIT 1000", params)
        return [{"principal": r[0], "day": r[1], "route": r[2], "requests": r[3]} for r in rows]


@dataclass
class ServerState:
    settings: ServerSettings
    engine_settings: Settings
    db: ServerDB
    box: SecretBox
    keys: KeyStore
    projects: ProjectRegistry
    limiter: RateLimiter
    usage: UsageCounter
    readiness: Readiness = field(default_factory=Readiness)
    role_rates: dict[Role, Rate] = field(default_factory=dict)
    address_rate: Rate = field(default_factory=lambda: Rate(6000, 60.0))

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.db)

    def __post_init__(self) -> None:
        if not self.role_rates:
            self.role_rates = {role: Rate.parse(self.settings.rate_for(role)) for role in ROLES}
        self.address_rate = Rate.parse(self.settings.rate_address)
