"""HTTP load benchmark: a real uvicorn server on loopback, concurrent clients mixing search and context.

Phases against one server (one or more worker processes):
1. load — search (70 %) and context (30 %) requests for `--seconds`, either closed-loop
   (`--clients` clients each sending as fast as answers come back: the saturation point) or
   open-loop (`--rate R`: requests arrive at R per second, Poisson, and at most `--clients`
   are in flight; each latency runs from the request's scheduled arrival, so time spent
   waiting for a free client counts and a slow server cannot hide its backlog); reports
   requests/s, p50/p95/p99 latency and errors. With `--sweep` the open-loop phase runs at
   several rates and reports the highest whose p95 stays within `--slo-ms`.
2. HTTP overhead — an authenticated GET that does no retrieval.
3. rate limiter — the clients hammer a cheap endpoint with one reader key whose bucket is
   `--limit-rate` (capacity/seconds); reports accepted vs. the exact token-bucket bound
   capacity + rate × elapsed, across every worker.

Corpus (default `bigindex`): a copy of the ≥100k-chunk index of `bigindex.py` (five
SWE-bench dev projects, several releases each), given MiniLM-shaped vectors
(`fill_benchmark_vectors`: dense search costs what it costs in production, the query is
embedded by the real bundled MiniLM) and served as a server-side path project; or
`--source DIR`, indexed by the server itself with `--embedder`.
Queries: the 500 CoSQA dev questions, symbol names sampled from the index, and SWE-bench
Lite dev issue titles; `--distinct` appends a random number so that no request is ever
answered from the result cache.

    .venv/bin/python benchmarks/http_load.py --seconds 60 --clients 32 --workers 2 --distinct [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata
from evaldata import tree_cpu_s

# Fixed secrets (the server refuses one with fewer than 8 different characters).
BENCH_SECRET = "bench-" + "0123456789abcdef" * 3
DEFAULT_PACKAGES = ("starlette", "fastapi", "pydantic", "httpx", "uvicorn", "jwt", "anyio")


def query_pool(index_db: Path | None, seed: int = 0) -> list[str]:
    """CoSQA dev questions, SWE-bench Lite dev titles and (given an index) 500 of its symbol names."""
    _, cosqa = evaldata.load_cosqa("dev")
    pool = [r["query"] for r in cosqa]
    pool += [r["problem_statement"].strip().split("\n", 1)[0] for r in evaldata.load_swebench(rebuildable_only=False)]
    if index_db is not None:
        conn = sqlite3.connect(f"file:{index_db}?mode=ro", uri=True)
        try:
            names = [str(r[0]) for r in conn.execute(
                "SELECT DISTINCT qualified_name FROM chunks WHERE kind IN ('function', 'method', 'class')"
                " AND length(qualified_name) > 6")]
        finally:
            conn.close()
        pool += random.Random(seed).sample(names, min(500, len(names)))
    return pool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_source(tmp: Path) -> Path:
    """A folder of symlink-free copies of a few installed packages (a real, mixed code base)."""
    site = Path(sysconfig.get_paths()["purelib"])
    target = tmp / "corpus"
    for name in DEFAULT_PACKAGES:
        if (site / name).is_dir():
            subprocess.run(["cp", "-r", str(site / name), str(target / name)] if target.exists()
                           else ["sh", "-c", f"mkdir -p {target} && cp -r {site / name} {target / name}"],
                           check=True)
    return target


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def wait_ready(base: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not become ready")


def _body(kind: str, query: str, budget: int) -> dict[str, object]:
    return {"query": query, "limit": 10} if kind == "search" else {"query": query, "budget_tokens": budget}


async def _timed(client: httpx.AsyncClient, kind: str, query: str, budget: int, since: float,
                 latencies: dict[str, list[float]], errors: dict[str, int], cheap: bool = False) -> None:
    """Send one request; its latency counted from `since` (perf_counter), or its failure."""
    try:
        if cheap:
            response = await client.get("/api/v1/projects/bench")
        else:
            response = await client.post(f"/api/v1/projects/bench/{kind}", json=_body(kind, query, budget))
        status: object = response.status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    if status == 200:
        latencies[kind].append((time.perf_counter() - since) * 1000)
    else:
        errors[str(status)] = errors.get(str(status), 0) + 1


def _summary(latencies: dict[str, list[float]], errors: dict[str, int], wall: float,
             **extra: object) -> dict[str, object]:
    every = latencies["search"] + latencies["context"]
    return {
        **extra, "seconds": round(wall, 1), "requests": len(every),
        "errors": sum(errors.values()), "error_kinds": errors,
        "throughput_rps": round(len(every) / wall, 1),
        "p50_ms": round(percentile(every, 50), 1), "p95_ms": round(percentile(every, 95), 1),
        "p99_ms": round(percentile(every, 99), 1),
        **{kind: {"n": len(values), "p50_ms": round(percentile(values, 50), 1),
                  "p95_ms": round(percentile(values, 95), 1)} for kind, values in latencies.items()},
    }


async def throughput(base: str, token: str, clients: int, seconds: float, budget: int, pool: list[str],
                     cheap: bool = False, distinct: bool = False, seed: int = 0) -> dict[str, object]:
    """Closed loop: every client sends its next request when the last one is answered."""
    latencies: dict[str, list[float]] = {"search": [], "context": []}
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(rng: random.Random) -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
            while time.monotonic() < stop:
                kind = "search" if rng.random() < 0.7 else "context"
                query = rng.choice(pool) + (f" {rng.randrange(10**9)}" if distinct else "")
                await _timed(client, kind, query, budget, time.perf_counter(), latencies, errors, cheap)

    began = time.monotonic()
    await asyncio.gather(*(worker(random.Random(seed * 1000 + i)) for i in range(clients)))
    return _summary(latencies, errors, time.monotonic() - began, mode="closed", clients=clients)


async def open_loop(base: str, token: str, clients: int, seconds: float, budget: int, pool: list[str],
                    rate: float, distinct: bool = False, seed: int = 0) -> dict[str, object]:
    """Open loop: Poisson arrivals at `rate`/s, at most `clients` in flight; latency from arrival."""
    latencies: dict[str, list[float]] = {"search": [], "context": []}
    errors: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(seed)
    arrivals: asyncio.Queue[tuple[float, str, str] | None] = asyncio.Queue()
    waited: list[float] = []

    async def generate() -> None:
        began = time.perf_counter()
        due = began
        while due - began < seconds:
            due += rng.expovariate(rate)
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            kind = "search" if rng.random() < 0.7 else "context"
            query = rng.choice(pool) + (f" {rng.randrange(10**9)}" if distinct else "")
            arrivals.put_nowait((due, kind, query))
        for _ in range(clients):
            arrivals.put_nowait(None)

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
            while (item := await arrivals.get()) is not None:
                due, kind, query = item
                waited.append(max(0.0, time.perf_counter() - due) * 1000)
                await _timed(client, kind, query, budget, due, latencies, errors)

    began = time.monotonic()
    await asyncio.gather(generate(), *(worker() for _ in range(clients)))
    return _summary(latencies, errors, time.monotonic() - began, mode="open", clients=clients,
                    offered_rps=rate, client_wait_p95_ms=round(percentile(waited, 95), 1))


async def limiter(base: str, token: str, clients: int, seconds: float, capacity: int,
                  period_s: float) -> dict[str, object]:
    accepted: list[float] = []
    refused = 0
    other = 0
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def worker() -> None:
        nonlocal refused, other
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            while time.monotonic() < stop:
                response = await client.get("/api/v1/projects")
                if response.status_code == 200:
                    accepted.append(time.monotonic())
                elif response.status_code == 429:
                    refused += 1
                    assert "retry-after" in response.headers and "ratelimit-remaining" in response.headers
                else:
                    other += 1

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(clients)))
    span = (max(accepted) - min(accepted)) if accepted else 0.0
    rate = capacity / period_s
    bound = capacity + rate * span
    return {
        "rate": f"{capacity}/{period_s:g}s ({rate:g}/s, burst {capacity})",
        "seconds": round(time.monotonic() - began, 1),
        "accepted": len(accepted), "refused_429": refused, "other": other,
        "bound_capacity_plus_rate_x_span": round(bound, 1), "span_s": round(span, 2),
        "accepted_over_bound": round(len(accepted) / bound, 4) if bound else None,
    }


def prepare_bigindex(home: Path) -> tuple[Path, Path]:
    """Copy the shared ≥100k-chunk index to where the server will look for project `bench`,
    and give the copy MiniLM-shaped vectors. Returns (corpus root, copied index.db)."""
    from bigindex import build_big_index, fill_benchmark_vectors

    big = build_big_index()
    source = big.open().index_dir
    target = home / "server" / "indexes" / "bench"
    target.mkdir(parents=True)
    shutil.copy2(source / "index.db", target / "index.db")  # the shared index is idle (no -wal content)
    started = time.perf_counter()
    real, fake = fill_benchmark_vectors(big, index_dir=target)
    print(f"index copied, vectors filled ({real} real, {fake} random) in {time.perf_counter() - started:.0f}s",
          file=sys.stderr, flush=True)
    return big.root, target / "index.db"


def with_server_cpu(pid: int, phase: Callable[[], dict[str, object]]) -> dict[str, object]:
    """Run a load phase and add the server's CPU per answered request (every worker process):
    the steady figure on a shared machine, where wall-clock throughput depends on the neighbours."""
    before = tree_cpu_s(pid)
    result = phase()
    spent = tree_cpu_s(pid) - before
    requests = int(str(result["requests"])) + int(str(result["errors"]))
    return {**result, "server_cpu_ms_per_request": round(spent * 1000 / max(1, requests), 1),
            "server_cores_busy": round(spent / float(str(result["seconds"])), 2)}


def rates_to_try(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="open loop at this many requests/s (0: closed loop as fast as answered)")
    parser.add_argument("--sweep", default="", help="open loop at each of these comma-separated rates")
    parser.add_argument("--slo-ms", type=float, default=300.0, help="p95 target the sweep reports against")
    parser.add_argument("--limit-seconds", type=float, default=10)
    parser.add_argument("--limit-rate", default="50/5", help="capacity/seconds for the limiter phase")
    parser.add_argument("--budget", type=int, default=2000, help="context budget_tokens")
    parser.add_argument("--source", type=Path, default=None,
                        help="index this folder through the server instead of copying the big index")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--distinct", action="store_true",
                        help="never repeat a query (measures the engine, not the result cache)")
    parser.add_argument("--home", type=Path, default=None,
                        help="server PRISM_HOME to keep between runs (the big-index copy is made once)")
    parser.add_argument("--server-src", type=Path, default=None,
                        help="run the server from this checkout's src/ (an A/B against another commit "
                             "from one client); its --home must already hold an index that commit reads")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="prism-http-load-"))
    home = args.home or tmp / "home"
    load_before = evaldata.load_average()
    copied = home / "server" / "indexes" / "bench" / "index.db"
    if args.source is None and args.home is not None and copied.exists():
        from bigindex import CACHE

        # build_big_index's corpus, not opened: the shared index is another process's to write.
        source, index_db = (CACHE / "monorepo").resolve(), copied
    elif args.source is None:
        source, index_db = prepare_bigindex(home)
        source = source.resolve()
    else:
        source, index_db = (args.source or default_source(tmp)).resolve(), None
    pool = query_pool(index_db)
    port = free_port()
    env = {**os.environ, "PRISM_HOME": str(home), "PRISM_EMBEDDER": args.embedder,
           "API_SECRET": BENCH_SECRET, "JWT_SECRET": BENCH_SECRET[::-1],
           "CORS_ORIGINS": "https://bench.invalid", "ENVIRONMENT": "production",
           "PRISM_ALLOWED_ROOTS": str(source.parent), "PRISM_RATE_WRITER": "100000000/1",
           "PRISM_RATE_ADMIN": "100000000/1", "PRISM_RATE_ADDRESS": "100000000/1",
           "PRISM_RATE_READER": args.limit_rate, "LOG_LEVEL": "WARNING"}
    if args.server_src is not None:
        env["PYTHONPATH"] = str(args.server_src.resolve())
    prism = [sys.executable, "-m", "prism"]
    admin = json.loads(subprocess.run([*prism, "keys", "create", "--name", "bench-admin", "--role", "admin",
                                       "--json"], env=env, capture_output=True, text=True, check=True).stdout)
    reader = json.loads(subprocess.run([*prism, "keys", "create", "--name", "bench-reader", "--json"],
                                       env=env, capture_output=True, text=True, check=True).stdout)
    server = subprocess.Popen([*prism, "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", str(args.workers), "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, object] = {}
    try:
        asyncio.run(wait_ready(base))
        headers = {"Authorization": f"Bearer {admin['api_key']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=3600) as client:
            created = client.post("/api/v1/projects", json={"name": "bench", "path": str(source)})
            if created.status_code != 409:  # 409: kept from an earlier run (--home)
                created.raise_for_status()
            start = time.perf_counter()
            if index_db is None:
                results["index_report"] = client.post("/api/v1/projects/bench/index", json={}).json()["report"]
            results["index_seconds"] = round(time.perf_counter() - start, 1)
            stats = client.get("/api/v1/projects/bench/stats").json()["stats"]
        # Warm every worker: the first searches load the model and map the vector snapshot.
        results["warmup"] = asyncio.run(throughput(base, admin["api_key"], 4, 20.0, args.budget, pool,
                                                   distinct=True, seed=99))["requests"]
        if args.sweep:
            sweep = [with_server_cpu(server.pid, lambda i=i, rate=rate: asyncio.run(open_loop(
                         base, admin["api_key"], args.clients, args.seconds, args.budget, pool, rate,
                         args.distinct, seed=i)))
                     for i, rate in enumerate(rates_to_try(args.sweep))]
            within = [r for r in sweep if float(r["p95_ms"]) <= args.slo_ms and not r["errors"]]  # type: ignore[arg-type]
            results["sweep"] = sweep
            results["best_rate_within_slo"] = max((r["offered_rps"] for r in within), default=None)  # type: ignore[type-var]
        elif args.rate > 0:
            results["load"] = with_server_cpu(server.pid, lambda: asyncio.run(open_loop(
                base, admin["api_key"], args.clients, args.seconds, args.budget, pool, args.rate, args.distinct)))
        else:
            results["load"] = with_server_cpu(server.pid, lambda: asyncio.run(throughput(
                base, admin["api_key"], args.clients, args.seconds, args.budget, pool, distinct=args.distinct)))
        overhead = asyncio.run(throughput(base, admin["api_key"], args.clients, min(10.0, args.seconds),
                                          args.budget, pool, cheap=True))
        results["http_overhead"] = {k: overhead[k] for k in ("requests", "errors", "throughput_rps", "p50_ms",
                                                             "p95_ms", "p99_ms")}
        capacity, _, period = args.limit_rate.partition("/")
        results["rate_limiter"] = asyncio.run(limiter(base, reader["api_key"], args.clients, args.limit_seconds,
                                                      int(capacity), float(period)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": {"nproc": os.cpu_count(), "cpu": cpu,
                                                               "python": platform.python_version()},
        "load_average_before": load_before, "load_average_after": evaldata.load_average(),
        "workers": args.workers, "distinct_queries": args.distinct, "query_pool": len(pool),
        "index": {"files": stats["files"], "chunks": stats["chunks"], "tokens": stats["tokens"],
                  "embedder": args.embedder, "source": "bigindex copy" if index_db else str(source)},
        **results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
