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

With `--http-rounds N` it also runs the issue's check on a real server: two `prism serve`
processes on loopback over one home (the same code, quotas and settings; in one the meter's
three consumers are no-ops, patched by this script's own launcher, `--serve`, so no product
setting exists to turn metering off), and N interleaved rounds (A B, then B A, …) of the same
closed-loop HTTP load (`http_load.throughput`: search 70 %, context 30 %, distinct queries, so
every request runs the engine). Reported: each arm's p95 per round, the per-round ratio
p95(with) / p95(without) with its median and spread, and the load average around each round.

    .venv/bin/python benchmarks/meter_cost.py [--rounds 6] [--requests 200] [--http-rounds 6 --http-seconds 20]
        [--out benchmarks/results/meter_cost.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaldata import load_average, machine, process_cpu_s
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


def serve(port: int, meter: bool) -> None:
    """This script's server launcher (`--serve PORT on|off`): `prism serve` with or without the meter."""
    from prism.serve.http.app import run

    if not meter:
        for cls, name in PATCHED:
            setattr(cls, name, noop)
    run("127.0.0.1", port, workers=1, log_level="warning")


def http_ab(rounds: int, seconds: float, clients: int) -> tuple[list[str], dict[str, Any]]:
    """Interleaved A/B rounds of one HTTP load against a server with and one without the meter."""
    import asyncio
    import subprocess

    import http_load
    import httpx

    home = Path(tempfile.mkdtemp(prefix="prism-meter-ab-"))
    source = http_load.default_source(home)
    env = {**os.environ, "PRISM_HOME": str(home / "home"), "PRISM_EMBEDDER": "hashing",
           "API_SECRET": "bench-secret-" + "Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e", "LOG_LEVEL": "WARNING",
           "PRISM_QUOTAS": json.dumps(QUOTAS), "PRISM_ALLOWED_ROOTS": str(home),
           **{f"PRISM_RATE_{r}": "100000000/1" for r in ("READER", "WRITER", "ADMIN", "ADDRESS")}}
    prism = [sys.executable, "-m", "prism"]
    admin = json.loads(subprocess.run([*prism, "keys", "create", "--name", "bench", "--role", "admin", "--json"],
                                      env=env, capture_output=True, text=True, check=True).stdout)["api_key"]
    ports = {"with": http_load.free_port(), "without": http_load.free_port()}
    servers = {arm: subprocess.Popen([sys.executable, __file__, "--serve", str(port), "on" if arm == "with" else "off"],
                                     env=env) for arm, port in ports.items()}
    results: dict[str, Any] = {"with": [], "without": [], "ratio": [], "load": []}
    try:
        for port in ports.values():
            asyncio.run(http_load.wait_ready(f"http://127.0.0.1:{port}"))
        with httpx.Client(base_url=f"http://127.0.0.1:{ports['with']}", timeout=3600,
                          headers={"Authorization": f"Bearer {admin}"}) as client:
            client.post("/api/v1/projects", json={"name": "bench", "path": str(source)}).raise_for_status()
            report = client.post("/api/v1/projects/bench/index", json={}).json()["report"]
        pool = http_load.query_pool(None)
        for port in ports.values():  # warm both: model, vector snapshot, caches
            asyncio.run(http_load.throughput(f"http://127.0.0.1:{port}", admin, clients, 5.0, 2000, pool,
                                             distinct=True, seed=7))
        for n in range(rounds):
            order = ("with", "without") if n % 2 == 0 else ("without", "with")
            p95: dict[str, float] = {}
            for arm in order:
                cpu = process_cpu_s(servers[arm].pid)
                load = asyncio.run(http_load.throughput(f"http://127.0.0.1:{ports[arm]}", admin, clients, seconds,
                                                        2000, pool, distinct=True, seed=n))
                cpu_ms = (process_cpu_s(servers[arm].pid) - cpu) * 1000 / max(1, int(load["requests"]))
                p95[arm] = float(load["p95_ms"])
                results[arm].append({"p95_ms": p95[arm], "p50_ms": load["p50_ms"], "rps": load["throughput_rps"],
                                     "errors": load["errors"], "cpu_ms": cpu_ms})
            results["ratio"].append(p95["with"] / p95["without"])
            results["load"].append(os.getloadavg()[0])
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=30)
    ratios = sorted(results["ratio"])
    median = statistics.median(ratios)
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [median, median, median]
    med = {arm: statistics.median(r["p95_ms"] for r in results[arm]) for arm in ("with", "without")}
    cpu = {arm: statistics.median(r["cpu_ms"] for r in results[arm]) for arm in ("with", "without")}
    lines = ["", "## HTTP load A/B: p95 with and without the meter", "",
             f"- Command: `.venv/bin/python benchmarks/meter_cost.py --http-rounds {rounds} --http-seconds "
             f"{seconds:g} --http-clients {clients}`",
             f"- Two `prism serve` (1 worker each) over one home, {len(QUOTAS)} quotas, LOG_LEVEL=WARNING; "
             f"corpus: {report['files_indexed']} files, {report['chunks_written']} chunks (hashing embedder); "
             f"closed loop, {clients} clients, {seconds:g} s per arm per round, search 70 % / context 30 %, "
             "distinct queries; rounds interleaved A B, B A, …", "",
             "| round | order | p95 with (ms) | p95 without (ms) | ratio | req/s with | req/s without | "
             "server CPU ms/request with | without | load (1 min) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in range(rounds):
        order = "with, without" if n % 2 == 0 else "without, with"
        w, wo = results["with"][n], results["without"][n]
        lines.append(f"| {n + 1} | {order} | {w['p95_ms']:.0f} | {wo['p95_ms']:.0f} | {results['ratio'][n]:.3f} | "
                     f"{w['rps']} | {wo['rps']} | {w['cpu_ms']:.1f} | {wo['cpu_ms']:.1f} | {results['load'][n]:.1f} |")
    lines += ["", f"p95 ratio with/without: **median {median:.3f}** (quartiles {quartiles[0]:.3f} – "
              f"{quartiles[2]:.3f}, range {ratios[0]:.3f} – {ratios[-1]:.3f}); medians of the arms' p95: "
              f"{med['with']:.0f} ms with, "
              f"{med['without']:.0f} ms without ({100 * (med['with'] / med['without'] - 1):+.1f} %). Server CPU per "
              f"request (median of rounds): {cpu['with']:.1f} ms with, {cpu['without']:.1f} ms without "
              f"({100 * (cpu['with'] / cpu['without'] - 1):+.1f} %).", ""]
    shutil.rmtree(home, ignore_errors=True)
    return lines, {"median_ratio": median, "quartiles": quartiles, "range": (ratios[0], ratios[-1])}


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
    parser.add_argument("--http-rounds", type=int, default=0, help="interleaved HTTP A/B rounds (0: none)")
    parser.add_argument("--http-seconds", type=float, default=20.0)
    parser.add_argument("--http-clients", type=int, default=4)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "METER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1] == "on")
        return 0
    load_before = load_average()
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
             f"- Machine: {machine()}; load average (1/5/15 min) at the start: {load_before}, "
             f"after the in-process rounds: {load_average()}",
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
    if args.http_rounds:
        http_lines, _ = http_ab(args.http_rounds, args.http_seconds, args.http_clients)
        lines += [*http_lines, f"Load average at the end: {load_average()}", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PRISM_EMBEDDER", "hashing")
    raise SystemExit(main())
