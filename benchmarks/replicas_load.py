"""Throughput of 1 and 2 `prism serve` replicas on one PostgreSQL and one Redis (the ratio, same run).

Two replica processes, each with a PRISM_HOME of its own, share nothing but a PostgreSQL
(a database of this run's own on `--database-url`, else on a pgserver kept in /tmp:
benchmarks/pgtemp.py) and a Redis (a
redis-server on a free port, as tests/services.py starts one). Replica 1 indexes a path
project (`--source`, default copies of a few installed packages, the http_load corpus) into
PostgreSQL; then closed-loop clients (search 70 %, context 30 %, `--distinct` queries so the
shared cache answers none) run against replica 1 alone and against both replicas (half the
clients each), interleaved `--rounds` times, and the table reports requests/s, p50/p95 and the
ratio of the two. On a machine with fewer cores than replicas × workers the ratio measures
CPU sharing more than the design: read it with the load average. With `--cache-pool N` a second
phase repeats the first N queries on both replicas, with each replica caching in its own memory
and then sharing Redis (PRISM_CACHE_BACKEND), so what one replica computed the other serves.

    flock /tmp/prism-bench.lock .venv/bin/python benchmarks/replicas_load.py --seconds 20 --rounds 2 \\
        --cache-pool 100 --out benchmarks/results/replicas_load.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import evaldata  # noqa: E402
from http_load import default_source, free_port, query_pool, throughput, wait_ready  # noqa: E402
from pgtemp import postgres  # noqa: E402

from services import redis_server, scratch_database  # noqa: E402  (tests/ is not a package)


async def load(bases: list[str], token: str, clients: int, seconds: float, budget: int, pool: list[str],
               seed: int, distinct: bool = True) -> dict[str, float]:
    """Closed loop on every base at once (clients split evenly); requests/s summed, latencies pooled by weight."""
    share = max(1, clients // len(bases))
    parts: list[dict[str, Any]] = list(await asyncio.gather(*(
        throughput(base, token, share, seconds, budget, pool, distinct=distinct, seed=seed + i)
        for i, base in enumerate(bases))))
    requests = sum(int(p["requests"]) for p in parts)
    return {"rps": sum(float(p["throughput_rps"]) for p in parts), "requests": requests,
            "errors": sum(int(p["errors"]) for p in parts),
            "p50_ms": sum(float(p["p50_ms"]) * int(p["requests"]) for p in parts) / max(1, requests),
            "p95_ms": max(float(p["p95_ms"]) for p in parts)}


def serve(env: dict[str, str], homes: list[Path], ports: list[int], cache: str) -> list[subprocess.Popen[bytes]]:
    """One `prism serve` per port, each with its PRISM_HOME, results cached in `cache` (memory or redis)."""
    return [subprocess.Popen([sys.executable, "-m", "prism", "serve", "--host", "127.0.0.1", "--port", str(port),
                              "--log-level", "warning"],
                             env={**env, "PRISM_HOME": str(home), "PRISM_CACHE_BACKEND": cache})
            for home, port in zip(homes, ports, strict=True)]


def stop(servers: list[subprocess.Popen[bytes]]) -> None:
    for server in servers:
        server.terminate()
    for server in servers:
        server.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--embedder", default="hashing")
    ap.add_argument("--source", type=Path)
    ap.add_argument("--database-url", default="pgserver")
    ap.add_argument("--cache-pool", type=int, default=0,
                    help="then 2 replicas on the first N queries, repeated, with PRISM_CACHE_BACKEND=memory vs "
                         "redis (fresh servers each run, interleaved --rounds times)")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    load_before = evaldata.load_average()
    tmp = Path(tempfile.mkdtemp(prefix="prism-replicas-"))
    source = (a.source or default_source(tmp)).resolve()
    pool = query_pool(None)
    rows: list[tuple[int, dict[str, float]]] = []
    cache_rows: list[tuple[str, dict[str, float]]] = []
    with postgres(a.database_url) as server_url, scratch_database(server_url) as database, \
            redis_server(tmp) as redis_url:
        env = {**os.environ, "PRISM_DATABASE_URL": database, "PRISM_REDIS_URL": redis_url,
               "PRISM_EMBEDDER": a.embedder, "API_SECRET": secrets.token_urlsafe(48),
               "PRISM_ALLOWED_ROOTS": str(source.parent), "PRISM_RATE_ADMIN": "100000000/1",
               "PRISM_RATE_ADDRESS": "100000000/1", "LOG_LEVEL": "WARNING", "PRISM_HOME": str(tmp / "home1")}
        prism = [sys.executable, "-m", "prism"]
        created = subprocess.run([*prism, "keys", "create", "--name", "bench-admin", "--role", "admin", "--json"],
                                 env=env, capture_output=True, text=True)
        if created.returncode:
            raise SystemExit(f"prism keys create failed: {created.stderr.strip()}")
        admin = json.loads(created.stdout)["api_key"]
        ports = [free_port(), free_port()]
        homes = [tmp / "home1", tmp / "home2"]
        servers = serve(env, homes, ports, "redis")
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            for base in bases:
                asyncio.run(wait_ready(base))
            import httpx
            import redis

            name = "bench"  # the project http_load's requests address; the database is this run's own
            with httpx.Client(base_url=bases[0], headers={"Authorization": f"Bearer {admin}"}, timeout=3600) as c:
                c.post("/api/v1/projects", json={"name": name, "path": str(source)}).raise_for_status()
                started = time.perf_counter()
                report = c.post(f"/api/v1/projects/{name}/index", json={}).json()["report"]
                index_s = time.perf_counter() - started
            for base in bases:  # warm both: engines open, pools connect
                asyncio.run(load([base], admin, 2, 5.0, a.budget, pool, seed=99))
            for round_ in range(a.rounds):
                for count in (1, 2):
                    result = asyncio.run(load(bases[:count], admin, a.clients, a.seconds, a.budget, pool,
                                              seed=10 * round_ + count))
                    rows.append((count, result))
                    print(count, result, file=sys.stderr, flush=True)
            repeated = pool[:a.cache_pool]
            for round_ in range(a.rounds if a.cache_pool else 0):
                for cache in ("memory", "redis"):
                    stop(servers)
                    flush = redis.Redis.from_url(redis_url)  # no cached entry survives from the last run
                    flush.flushdb()
                    flush.close()
                    servers = serve(env, homes, ports, cache)
                    for base in bases:
                        asyncio.run(wait_ready(base))
                    result = asyncio.run(load(bases, admin, a.clients, a.seconds, a.budget, repeated,
                                              seed=100 + round_, distinct=False))
                    cache_rows.append((cache, result))
                    print(cache, result, file=sys.stderr, flush=True)
        finally:
            stop(servers)
    one = [r["rps"] for n, r in rows if n == 1]
    two = [r["rps"] for n, r in rows if n == 2]
    ratio = statistics.median(two) / statistics.median(one)
    lines = [
        "# Throughput: 1 and 2 `prism serve` replicas on one PostgreSQL and one Redis",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.node()}, {os.cpu_count()} CPUs "
        f"(shared by several sessions); load average at start {load_before}, at end {evaldata.load_average()}",
        f"- command: `flock /tmp/prism-bench.lock .venv/bin/python benchmarks/replicas_load.py "
        f"{' '.join(sys.argv[1:])}`",
        f"- corpus: {report.get('files_indexed')} files, {report.get('chunks_written')} chunks "
        f"(installed packages), embedder `{a.embedder}`, indexed into PostgreSQL by replica 1 in {index_s:.0f} s",
        f"- load: {a.clients} closed-loop clients (split evenly over the replicas), search 70 % / context "
        f"{a.budget} tokens 30 %, distinct queries (no cache hits); {a.seconds:g} s per run, 1 and 2 replicas "
        f"interleaved, {a.rounds} rounds; each replica one worker process",
        "",
        "| replicas | round | requests/s | p50 ms | p95 ms | errors |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for index, (count, r) in enumerate(rows):
        lines.append(f"| {count} | {index // 2 + 1} | {r['rps']:.1f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
                     f"{int(r['errors'])} |")
    lines += ["", f"Median requests/s: 1 replica {statistics.median(one):.1f}, 2 replicas "
              f"{statistics.median(two):.1f}: ratio **{ratio:.2f}**.", ""]
    if cache_rows:
        lines += ["## Repeated queries: each replica's own cache vs one shared in Redis", "",
                  f"2 replicas, the same {a.clients} clients, the first {a.cache_pool} queries of the pool drawn at "
                  f"random (search and context: up to {2 * a.cache_pool} distinct requests), {a.seconds:g} s per "
                  "run; fresh servers and an empty Redis before each run, memory and redis interleaved.", "",
                  "| PRISM_CACHE_BACKEND | round | requests/s | p50 ms | p95 ms | errors |",
                  "|---|---:|---:|---:|---:|---:|"]
        for index, (cache, r) in enumerate(cache_rows):
            lines.append(f"| {cache} | {index // 2 + 1} | {r['rps']:.1f} | {r['p50_ms']:.1f} | {r['p95_ms']:.0f} | "
                         f"{int(r['errors'])} |")
        mem = statistics.median(r["rps"] for c, r in cache_rows if c == "memory")
        red = statistics.median(r["rps"] for c, r in cache_rows if c == "redis")
        lines += ["", f"Median requests/s: memory {mem:.1f}, redis {red:.1f}: ratio **{red / mem:.2f}**.", ""]
    table = "\n".join(lines)
    print(table)
    if a.out:
        a.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
