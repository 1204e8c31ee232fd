"""The dashboard's numbers, read from what the server already keeps: the meter, the metrics, the quotas.

Nothing here counts anything. `daily` sums the meter's rows by UTC day (tokens served and
saved, error and cache hit rates); `latency` reads the request and operation histograms out of
the Prometheus text the server renders for `/metrics` (so under `--workers N` it covers every
worker) and estimates quantiles the way PromQL's `histogram_quantile` does: linearly within the
bucket that holds the rank.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from prism.ops.meter import Cell, totals, utc_day

DAYS = 14  # how many UTC days the charts show
REQUEST_HISTOGRAM = "prism_http_request_seconds"
OPERATION_HISTOGRAM = "prism_operation_seconds"
API_PREFIX = "/api/v1/"
# Counted per day; the rates are derived from them.
DAILY_METRICS = ("requests", "errors", "searches", "context_packs", "tokens_served", "tokens_saved",
                 "cache_hits", "cache_misses", "rate_limited", "quota_refused")


def first_day(days: int = DAYS, now: float | None = None) -> str:
    """The earliest UTC day of a `days`-long window ending today."""
    return utc_day((time.time() if now is None else now) - (days - 1) * 86400)


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (a chart shows a gap, not a zero)."""
    return part / whole if whole else None


def daily(rows: Iterable[tuple[Cell, int]], days: int = DAYS, now: float | None = None) -> list[dict[str, Any]]:
    """One entry per UTC day of the window, oldest first, every day present (zeros where nothing ran)."""
    at = time.time() if now is None else now
    by_day = totals(rows, ("day",))
    out: list[dict[str, Any]] = []
    for back in range(days - 1, -1, -1):
        day = utc_day(at - back * 86400)
        counts = by_day.get((day,))
        entry: dict[str, Any] = {"day": day, **{m: (counts[m] if counts else 0) for m in DAILY_METRICS}}
        lookups = entry["cache_hits"] + entry["cache_misses"]
        entry["error_rate"] = ratio(entry["errors"], entry["requests"])
        entry["cache_hit_rate"] = ratio(entry["cache_hits"], lookups)
        entry["savings_rate"] = ratio(entry["tokens_saved"], entry["tokens_served"] + entry["tokens_saved"])
        out.append(entry)
    return out


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The q-quantile from cumulative (upper bound, count) buckets sorted by bound, the last +Inf."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower  # beyond the last finite bucket: its bound is all that is known
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


def _summary(cumulative: dict[float, float]) -> dict[str, Any]:
    """Count, p50 and p95 (milliseconds) and the per-bucket counts of one summed histogram."""
    ordered = sorted(cumulative.items())
    p50, p95 = quantile(ordered, 0.5), quantile(ordered, 0.95)
    buckets, below = [], 0.0
    for bound, total in ordered:
        buckets.append({"le": None if bound == float("inf") else bound, "count": int(total - below)})
        below = total
    return {"count": int(ordered[-1][1]) if ordered else 0,
            "p50_ms": None if p50 is None else round(p50 * 1000, 2),
            "p95_ms": None if p95 is None else round(p95 * 1000, 2), "buckets": buckets}


def latency(metrics_text: str, skip_routes: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Latency since the server started: every API route together (less `skip_routes`), and search and context."""
    skipped = set(skip_routes)
    sums: dict[str, dict[float, float]] = {"api": {}, "search": {}, "context": {}}
    for family in text_string_to_metric_families(metrics_text):
        if family.name not in (REQUEST_HISTOGRAM, OPERATION_HISTOGRAM):
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            if family.name == REQUEST_HISTOGRAM:
                route = sample.labels.get("route", "")
                if not route.startswith(API_PREFIX) or route in skipped:
                    continue
                series = "api"
            else:
                series = sample.labels.get("operation", "")
                if series not in sums:
                    continue
            bound = float(sample.labels["le"])
            sums[series][bound] = sums[series].get(bound, 0.0) + sample.value
    return {name: _summary(cumulative) for name, cumulative in sums.items()}
