"""HTTP load benchmark: a real uvicorn server on loopback, N concurrent clients mixing search and context.

Two phases against one server process:
1. throughput — `--clients` async clients (httpx) send search (70 %) and context (30 %)
   requests for `--seconds`; reports requests/s, p50/p95/p99 latency and errors.
2. rate limiter — the same clients hammer a cheap endpoint with one reader key whose bucket
   is `--limit-rate` (capacity/seconds); reports accepted vs. the exact token-bucket bound
   capacity + rate × elapsed.

The index is built from a source folder served by path (default: a few packages from this
Python's site-packages) with the hashing embedder, so that building it fits a short run on a
small machine. Usage:

    .venv/bin/python benchmarks/http_load.py --seconds 30 --clients 32 [--source DIR] [--embedder minilm]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import httpx

QUERIES = [
    "where is the request body parsed", "validate json schema of a response", "rate limit retry after",
    "how are dependencies resolved", "websocket connection close", "parse query parameters",
    "jwt token expired", "serialize model to dict", "cors preflight request", "middleware order",
    "exception handler returns json", "openapi schema generation", "background task after response",
    "streaming response body", "path parameter converter", "settings from environment variables",
]
DEFAULT_PACKAGES = ("starlette", "fastapi", "pydantic", "httpx", "uvicorn", "jwt", "anyio")


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


async def throughput(base: str, token: str, clients: int, seconds: float, budget: int,
                     cheap: bool = False, distinct: bool = False) -> dict[str, object]:
    """Search/context mix, or with cheap=True an authenticated GET that does no retrieval (HTTP overhead)."""
    latencies: dict[str, list[float]] = {"search": [], "context": []}
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
            while time.monotonic() < stop:
                kind = "search" if rng.random() < 0.7 else "context"
                query = rng.choice(QUERIES)
                if distinct:  # a never-repeated request: two topics and a number, so no cache can answer it
                    query = f"{query} {rng.choice(QUERIES)} {rng.randrange(10**9)}"
                body: dict[str, object] = {"query": query, "limit": 10} if kind == "search" else \
                    {"query": query, "budget_tokens": budget}
                start = time.perf_counter()
                try:
                    if cheap:
                        response = await client.get("/api/v1/projects/bench")
                    else:
                        response = await client.post(f"/api/v1/projects/bench/{kind}", json=body)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__  # type: ignore[assignment]
                elapsed = time.perf_counter() - start
                if status == 200:
                    latencies[kind].append(elapsed * 1000)
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1

    began = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    wall = time.monotonic() - began
    every = latencies["search"] + latencies["context"]
    return {
        "clients": clients, "seconds": round(wall, 1), "requests": len(every),
        "errors": sum(errors.values()), "error_kinds": errors,
        "throughput_rps": round(len(every) / wall, 1),
        "p50_ms": round(percentile(every, 50), 1), "p95_ms": round(percentile(every, 95), 1),
        "p99_ms": round(percentile(every, 99), 1),
        "search": {"n": len(latencies["search"]), "p50_ms": round(percentile(latencies["search"], 50), 1),
                   "p95_ms": round(percentile(latencies["search"], 95), 1)},
        "context": {"n": len(latencies["context"]), "p50_ms": round(percentile(latencies["context"], 50), 1),
                    "p95_ms": round(percentile(latencies["context"], 95), 1)},
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--limit-seconds", type=float, default=10)
    parser.add_argument("--limit-rate", default="50/5", help="capacity/seconds for the limiter phase")
    parser.add_argument("--budget", type=int, default=2000, help="context budget_tokens")
    parser.add_argument("--source", type=Path, default=None)
    parser.add_argument("--embedder", default="hashing")
    parser.add_argument("--distinct", action="store_true",
                        help="never repeat a query (measures the engine, not the result cache)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="prism-http-load-"))
    source = (args.source or default_source(tmp)).resolve()
    port = free_port()
    env = {**os.environ, "PRISM_HOME": str(tmp / "home"), "PRISM_EMBEDDER": args.embedder,
           "API_SECRET": "bench-" + "x" * 40, "ENVIRONMENT": "production",
           "PRISM_ALLOWED_ROOTS": str(source.parent), "PRISM_RATE_WRITER": "100000000/1",
           "PRISM_RATE_ADMIN": "100000000/1", "PRISM_RATE_ADDRESS": "100000000/1",
           "PRISM_RATE_READER": args.limit_rate, "LOG_LEVEL": "WARNING"}
    prism = [sys.executable, "-m", "prism"]
    admin = json.loads(subprocess.run([*prism, "keys", "create", "--name", "bench-admin", "--role", "admin",
                                       "--json"], env=env, capture_output=True, text=True, check=True).stdout)
    reader = json.loads(subprocess.run([*prism, "keys", "create", "--name", "bench-reader", "--json"],
                                       env=env, capture_output=True, text=True, check=True).stdout)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "prism.serve.http.app:app_from_env",
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                               "--no-access-log"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_ready(base))
        headers = {"Authorization": f"Bearer {admin['api_key']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=3600) as client:
            client.post("/api/v1/projects", json={"name": "bench", "path": str(source)}).raise_for_status()
            start = time.perf_counter()
            report = client.post("/api/v1/projects/bench/index", json={}).json()["report"]
            index_s = time.perf_counter() - start
            stats = client.get("/api/v1/projects/bench/stats").json()["stats"]
        warm = asyncio.run(throughput(base, admin["api_key"], 2, min(5.0, args.seconds), args.budget))
        load = asyncio.run(throughput(base, admin["api_key"], args.clients, args.seconds, args.budget,
                                      distinct=args.distinct))
        overhead = asyncio.run(throughput(base, admin["api_key"], args.clients, min(10.0, args.seconds),
                                          args.budget, cheap=True))
        capacity, _, period = args.limit_rate.partition("/")
        limit = asyncio.run(limiter(base, reader["api_key"], args.clients, args.limit_seconds, int(capacity),
                                    float(period)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": {"nproc": os.cpu_count(), "cpu": cpu,
                                                               "python": platform.python_version()},
        "distinct_queries": args.distinct,
        "index": {"files": stats["files"], "chunks": stats["chunks"], "tokens": stats["tokens"],
                  "embedder": args.embedder, "index_seconds": round(index_s, 1),
                  "files_indexed": report["files_indexed"]},
        "warmup_requests": warm["requests"], "load": load,
        "http_overhead": {k: overhead[k] for k in ("requests", "errors", "throughput_rps", "p50_ms", "p95_ms",
                                                   "p99_ms")},
        "rate_limiter": limit,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
