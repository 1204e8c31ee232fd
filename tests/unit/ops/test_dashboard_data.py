"""The dashboard's numbers: days summed from meter rows (gaps filled), quantiles from histogram buckets."""

from __future__ import annotations

import math

import pytest

from prism.ops.dashboard_data import daily, first_day, latency, quantile
from prism.ops.meter import NONE, Cell, RequestRecord
from prism.ops.metrics import ServerMetrics

NOW = 1_764_633_600.0 + 12 * 3600  # 2025-12-02 12:00 UTC


def cell(day: str, metric: str, project: str = "web", key: str = "key:a") -> Cell:
    return Cell(day, key, project, "/api/v1/projects/{project}/context", metric)


def test_daily_sums_each_day_over_keys_and_projects_and_fills_the_gaps_with_zeros() -> None:
    rows = [(cell("2025-12-02", "requests"), 8), (cell("2025-12-02", "requests", "api", "key:b"), 2),
            (cell("2025-12-02", "errors"), 1), (cell("2025-12-02", "tokens_served"), 600),
            (cell("2025-12-02", "tokens_saved"), 400), (cell("2025-12-02", "cache_hits"), 3),
            (cell("2025-12-02", "cache_misses"), 1), (cell("2025-11-30", "requests"), 5),
            (cell("2025-11-01", "requests"), 99)]  # before the window: left out
    days = daily(rows, days=4, now=NOW)
    assert [d["day"] for d in days] == ["2025-11-29", "2025-11-30", "2025-12-01", "2025-12-02"]
    assert [d["requests"] for d in days] == [0, 5, 0, 10]
    today = days[-1]
    assert today["error_rate"] == pytest.approx(0.1)
    assert today["cache_hit_rate"] == pytest.approx(0.75)
    assert today["savings_rate"] == pytest.approx(0.4)
    quiet = days[0]
    assert quiet["error_rate"] is None and quiet["cache_hit_rate"] is None and quiet["savings_rate"] is None
    assert first_day(4, NOW) == "2025-11-29"


def test_quantile_interpolates_inside_the_bucket_that_holds_the_rank() -> None:
    buckets = [(0.1, 0.0), (0.5, 10.0), (1.0, 20.0), (math.inf, 20.0)]
    assert quantile(buckets, 0.5) == pytest.approx(0.5)  # rank 10: the top of the second bucket
    assert quantile(buckets, 0.25) == pytest.approx(0.3)  # rank 5: half way through 0.1–0.5
    assert quantile(buckets, 0.95) == pytest.approx(0.95)  # rank 19: 9/10 of the way through 0.5–1
    assert quantile([(0.1, 2.0), (math.inf, 10.0)], 0.95) == pytest.approx(0.1)  # past the last bound: the bound
    assert quantile([(0.1, 0.0), (math.inf, 0.0)], 0.5) is None
    assert quantile([], 0.5) is None


def record(route: str, seconds: float, status: int = 200, **tally: int) -> RequestRecord:
    return RequestRecord("POST", route, status, seconds, "rid", NONE, NONE, None, tally)


def test_latency_reads_the_rendered_metrics_per_series_and_leaves_out_skipped_and_non_api_routes() -> None:
    metrics = ServerMetrics()
    search = "/api/v1/projects/{project}/search"
    for seconds in (0.004, 0.004, 0.02, 0.02, 0.2):
        metrics.observe(record(search, seconds, searches=1))
    metrics.observe(record("/api/v1/projects/{project}/context", 3.0, context_packs=1))
    metrics.observe(record("/api/v1/dashboard", 9.0))
    metrics.observe(record("/health", 9.0))
    found = latency(metrics.render().decode(), skip_routes=("/api/v1/dashboard",))
    assert found["api"]["count"] == 6
    assert found["search"]["count"] == 5 and found["context"]["count"] == 1
    assert found["api"]["p50_ms"] == pytest.approx(10 + 15 * (3 - 2) / 2)  # rank 3 of 6: inside 10–25 ms
    assert found["context"]["p95_ms"] == pytest.approx(2500 + 2500 * 0.95)  # rank 0.95: inside 2.5–5 s
    per_bucket = {b["le"]: b["count"] for b in found["api"]["buckets"]}
    assert per_bucket[0.005] == 2 and per_bucket[0.025] == 2 and per_bucket[0.25] == 1 and per_bucket[5.0] == 1
    assert per_bucket[None] == 0 and sum(per_bucket.values()) == 6


def test_latency_with_no_requests_has_counts_of_zero_and_no_quantiles() -> None:
    found = latency(ServerMetrics().render().decode())
    assert found["api"] == {"count": 0, "p50_ms": None, "p95_ms": None, "buckets": []}
