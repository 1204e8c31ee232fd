"""The operator's dashboard: a page at /dashboard, its own script and style, and one JSON route that feeds it.

The page and its files are public and hold no data; the browser asks `GET /api/v1/dashboard`
with the credential the operator signs in with (an API key or a JWT, sent as a bearer token,
kept in the tab's sessionStorage: never in a URL or a cookie; see docs/security.md, "The
dashboard"). That route needs `usage.read` on every project; latency needs `metrics.read` as
well and the audit events `audit.read`, else those sections say which action is missing. Its
numbers come from the meter, the metrics, the quotas and the audit log (prism.ops.dashboard_data).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from prism.errors import PrismError
from prism.ops.dashboard_data import DAYS, daily, first_day, latency
from prism.ops.meter import utc_day
from prism.ops.metrics import IndexInfo
from prism.serve.http import schemas as s
from prism.serve.http.auth import Principal, server_state
from prism.serve.http.routes import PRISM_VERSION, endpoint

DATA_ROUTE = "/api/v1/dashboard"
AUDIT_EVENTS = 12
# Only same-origin script, style and fetches; no inline script, no framing, no form posting anywhere.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            "form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
# The files the page loads: a fixed list, read from the package (never a path from the request).
ASSETS = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8",
          "icon.svg": "image/svg+xml"}


class DayRow(BaseModel):
    day: str
    requests: int
    errors: int = Field(description="Answers with a 5xx status.")
    searches: int
    context_packs: int
    tokens_served: int
    tokens_saved: int
    cache_hits: int
    cache_misses: int
    rate_limited: int
    quota_refused: int
    error_rate: float | None = Field(description="errors / requests; null on a day without requests.")
    cache_hit_rate: float | None = Field(description="Hits / (hits + misses) of the result and pack caches.")
    savings_rate: float | None = Field(description="tokens_saved / (tokens_served + tokens_saved).")


class LatencyBucket(BaseModel):
    le: float | None = Field(description="Upper bound in seconds; null for the last, unbounded bucket.")
    count: int


class Latency(BaseModel):
    count: int
    p50_ms: float | None
    p95_ms: float | None
    buckets: list[LatencyBucket]


class IndexRow(BaseModel):
    project: str
    state: str
    indexed: bool
    chunks: int | None
    files: int | None
    last_indexed: float | None
    age_s: float | None = Field(description="Seconds since the last completed index.")


class DashboardData(BaseModel):
    version: str
    generated_at: float
    day: str = Field(description="Today, UTC.")
    principal: str
    days: list[DayRow] = Field(description=f"The last {DAYS} UTC days, oldest first.")
    latency: dict[str, Latency] | None = Field(
        description="Since the server started: `api` (every API route but this one), `search`, `context`; "
                    "null without `metrics.read`.")
    quotas: list[s.QuotaRow]
    indexes: list[IndexRow]
    audit: list[s.AuditEvent] | None = Field(description="The newest events; null without `audit.read`.")
    missing: list[str] = Field(description="Actions this credential lacks, each hiding one section.")


@cache
def _asset(name: str) -> bytes:
    return files("prism.serve.http").joinpath("static", name).read_bytes()


def _page(body: bytes, media_type: str) -> Response:
    return Response(body, media_type=media_type, headers={"content-security-policy": PAGE_CSP})


def _index_rows(request: Request, infos: Iterable[IndexInfo]) -> list[IndexRow]:
    state, now = server_state(request), time.time()
    by_name = {info.project: info for info in infos}
    rows = []
    for record in state.projects.all():
        try:
            status = state.projects.status(record.name)
        except (PrismError, OSError):  # deleted while we looked
            continue
        info = by_name.get(record.name)
        last = info.last_indexed if info else None
        rows.append(IndexRow(project=record.name, state=status.phase, indexed=status.indexed,
                             chunks=info.chunks if info else None, files=info.files if info else None,
                             last_indexed=last, age_s=None if last is None else round(max(0.0, now - last), 1)))
    return rows


def dashboard_routes(render_metrics: Callable[[], bytes], indexes: Callable[[], Iterable[IndexInfo]]) -> APIRouter:
    """The page, its files and its data; `render_metrics` is what /metrics serves, `indexes` its index gauges."""
    router = APIRouter()

    @endpoint(router, "GET", "/dashboard", "public", errors=(), hidden=True, summary="The dashboard page.")
    def page() -> Response:
        return _page(_asset("dashboard.html"), "text/html; charset=utf-8")

    @endpoint(router, "GET", "/dashboard/static/{name}", "public", errors=(404,), hidden=True,
              summary="The dashboard's script, style and icon.")
    def asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404)
        return _page(_asset(name), ASSETS[name])

    @endpoint(router, "GET", DATA_ROUTE, "usage.read",
              summary="Everything the dashboard shows: tokens, error and cache rates per day, latency, quotas, "
                      "index freshness, recent audit events.")
    def data(request: Request) -> DashboardData:
        state = server_state(request)
        principal: Principal = request.state.principal
        missing = [a for a in ("metrics.read", "audit.read") if a not in principal.actions]
        rows = state.meter.rows(first_day())
        timings = None
        if "metrics.read" not in missing:
            found = latency(render_metrics().decode(), skip_routes=(DATA_ROUTE,))
            timings = {name: Latency.model_validate(value) for name, value in found.items()}
        audit = None
        if "audit.read" not in missing:
            audit = [s.AuditEvent.model_validate(e) for e in state.audit.read(AUDIT_EVENTS)]
        return DashboardData(
            version=PRISM_VERSION, generated_at=time.time(), day=utc_day(), principal=principal.usage_id,
            days=[DayRow.model_validate(d) for d in daily(rows)], latency=timings,
            quotas=[s.QuotaRow.model_validate(r) for r in state.quotas.table()],
            indexes=_index_rows(request, indexes()), audit=audit, missing=missing)

    return router

