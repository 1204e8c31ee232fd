"""The meter's cost per HTTP request: process CPU time with and without it, in one process, A/B interleaved.

"Without" replaces the edge's three consumers of each request record — the meter
(`Meter.record`), the metrics (`ServerMetrics.observe`) and the quota checks and alerts
(`QuotaBook.check`, `QuotaBook.observe`) — with no-ops; everything else is the same server,
quotas configured. The shared build machine is loaded, so wall-clock latency (and its p95)
moves with the neighbours: CPU time per request is the number compared. Requests go through
Starlette's TestClient (no socket), which itself costs CPU, so the share of the meter in a
real uvicorn request is somewhat larger than the share here; the absolute µs per request is
the figure to carry over. The meter's flush thread runs in both arms (in "without" it has
nothing to write, only today's totals to read each second).

    .venv/bin/python benchmarks/meter_cost.py [--rounds 6] [--requests 200] [--out benchmarks/results/meter_cost.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaldata import load_average, machine
from fastapi.testclient import TestClient

from prism.config import Settings
from prism.ops.meter import Meter, RequestRecord, begin_request, count, end_request
from prism.ops.metrics import ServerMetrics
from prism.ops.quotas import QuotaBook
from prism.serve.http.app import create_app
from prism.serve.http.settings import ServerSettings

QUOTAS = [{"resource": r, "per": per, "limit": 10**9}
          for r in ("requests", "searches") for per in ("key", "project", "server")]
APP_PY = ("def refresh_token(user):\n    return user.token + 1\n\n\n"
          "class Session:\n    def login(self, n):\n        return n\n")
PATCHED: list[tuple[type, str]] = [(Meter, "record"), (ServerMetrics, "observe"), (QuotaBook, "check"),
                                   (QuotaBook, "observe")]


def noop(*args: Any, **kwargs: Any) -> None:
    return None


def cpu_per_request(call: Callable[[], Any], n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - start) / n * 1e6  # µs


def direct_cost(app: Any, n: int = 20000) -> float:
    """µs of CPU for what the edge adds per request, called directly: the tally, the record, the
    quota check, the meter, the metrics and the quota alerts (the background flushes included)."""
    state = app.state.prism
    metrics = ServerMetrics()
    start = time.process_time()
    for _ in range(n):
        tally, token = begin_request()
        state.quotas.check("key:bench", "bench", "search")
        count("cache_hits")
        tally["requests"] += 1
        tally["searches"] += 1
        record = RequestRecord("POST", "/api/v1/projects/{project}/search", 200, 0.01, "id", "key:bench", "bench",
                               "search", dict(tally))
        metrics.observe(record)
        state.meter.record(record.key, record.project, record.route, record.tally)
        state.quotas.observe(record.key, record.project, record.tally)
        end_request(token)
    return (time.process_time() - start) / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    originals = {(cls, name): getattr(cls, name) for cls, name in PATCHED}
    home = Path(tempfile.mkdtemp(prefix="prism-meter-bench-"))
    settings = ServerSettings(api_secret="bench-secret-" + "Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e",  # type: ignore[call-arg]
                              environment="development", log_level="WARNING", quotas=json.dumps(QUOTAS),
                              rate_admin="100000000/60", rate_address="100000000/60")
    app = create_app(settings, Settings(home=home, embedder="hashing"))
    admin = app.state.prism.keys.create("bench", "admin")[1]
    headers = {"Authorization": f"Bearer {admin}"}
    kinds: dict[str, Callable[[], Any]] = {}
    results: dict[str, dict[str, list[float]]] = {}
    with TestClient(app) as client:
        client.post("/api/v1/projects", json={"name": "bench"}, headers=headers)
        client.post("/api/v1/projects/bench/index", json={"files": [{"path": "app.py", "content": APP_PY}]},
                    headers=headers)
        kinds["search (cached result)"] = lambda: client.post(
            "/api/v1/projects/bench/search", json={"query": "refresh token"}, headers=headers)
        kinds["GET /api/v1/projects"] = lambda: client.get("/api/v1/projects", headers=headers)
        for kind, call in kinds.items():
            call()  # warm
            results[kind] = {"with": [], "without": []}
            for _ in range(args.rounds):
                for arm in ("with", "without"):
                    for (cls, name), original in originals.items():
                        setattr(cls, name, original if arm == "with" else noop)
                    results[kind][arm].append(cpu_per_request(call, args.requests))
        for (cls, name), original in originals.items():
            setattr(cls, name, original)
        direct_us = direct_cost(app)
    lines = [f"# Meter cost per request ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)", "",
             f"- Machine: {machine()}; load average at the end (1/5/15 min): {load_average()}",
             f"- Command: `.venv/bin/python benchmarks/meter_cost.py --rounds {args.rounds} "
             f"--requests {args.requests}`",
             f"- {len(QUOTAS)} quotas configured; LOG_LEVEL=WARNING in both arms; in-process (TestClient).", "",
             "| request | CPU µs/request with meter (median of rounds) | without | meter cost µs | share |",
             "|---|---:|---:|---:|---:|"]
    for kind, arms in results.items():
        with_us, without_us = statistics.median(arms["with"]), statistics.median(arms["without"])
        lines.append(f"| {kind} | {with_us:.0f} | {without_us:.0f} | {with_us - without_us:.0f} | "
                     f"{100 * (with_us - without_us) / without_us:+.1f} % |")
    rounds = {k: {a: [round(x) for x in v] for a, v in arms.items()} for k, arms in results.items()}
    lines += ["", f"Called directly (no HTTP), the meter's whole per-request path costs **{direct_us:.1f} µs** "
              "of CPU per request (20,000 calls, flush thread included).", "",
              "Rounds (µs): " + json.dumps(rounds), ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PRISM_EMBEDDER", "hashing")
    raise SystemExit(main())
