"""ServerState: the objects one server process shares (settings, server store, keys, projects, limiter, meter).

Routes and the auth dependency reach it through `request.app.state.prism`; tests build one
with a temporary PRISM_HOME and a fake clock where they need one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prism.config import Settings
from prism.ops.meter import Meter
from prism.ops.quotas import QuotaBook
from prism.serve.http.audit import AuditLog
from prism.serve.http.keys import KeyStore
from prism.serve.http.limits import Rate, RateLimiter
from prism.serve.http.projects import ProjectRegistry
from prism.serve.http.server_store import ServerStore
from prism.serve.http.settings import ROLES, Role, ServerSettings
from prism.serve.secrets import SecretBox


@dataclass
class Readiness:
    """What /ready reports: each check's state, set by the startup thread."""

    checks: dict[str, str] = field(default_factory=lambda: {"database": "pending", "model": "pending"})

    @property
    def ready(self) -> bool:
        return all(value == "ok" for value in self.checks.values())


@dataclass
class ServerState:
    settings: ServerSettings
    engine_settings: Settings
    db: ServerStore  # SQLite server.db, or PostgreSQL with PRISM_DATABASE_URL
    box: SecretBox
    keys: KeyStore
    projects: ProjectRegistry
    limiter: RateLimiter
    meter: Meter  # usage per key, project, route and day (prism.ops.meter)
    quotas: QuotaBook
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
