"""Warm `context` (2k and 8k) against warm `search` on one real tree, this checkout beside a baseline.

Each checkout gets its own index of the tree (its own PRISM_HOME: a baseline may not read this
checkout's schema) and one warm worker process; queries go to both in turn, call by call (the
order alternating), so a noisy box slows both alike. Queries are task phrasings generated from
the tree's documented functions, each asked once: a search, then a context at 2k (even
questions) or 8k (odd ones), so no pack memo has seen the question before (as in a server
answering new questions; chunks of earlier answers may come back); result caches are off.
Reports wall and worker-CPU p50/p95 ms and the ratio context/search per checkout. `--index-rounds N` first
times N cold lexical indexes (`prism index --no-embed --force`) per checkout, alternating (wall,
and the CPU of the children this process reaped: parse workers under a forkserver are missed,
see parse_cpu.py for the parse CPU).

    flock /tmp/prism-bench.lock python benchmarks/context_search_ab.py --tree /tmp/sqlfluff \\
        --baseline /work/main/src [--index-rounds 2] [--out benchmarks/results/context_latency.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from evaldata import load_average
from evaldata import percentile as pct

SRC = Path(__file__).resolve().parents[1] / "src"
WORKER = r"""
import json, sys, time
from pathlib import Path
from prism.engine import Prism
try:  # nothing cached: every call does its work (either side of the Cache contract)
    from prism.cache import MemoryCache
    p = Prism(Path(sys.argv[1]), cache=MemoryCache(entries=0))
except ImportError:
    from prism.engine import ResultCache
    p = Prism(Path(sys.argv[1]))
    p.results = ResultCache(size=0)
for line in sys.stdin:
    q, budget = json.loads(line)
    out = {}
    for name, call in (("search", lambda: p.search(q)),
                       (f"context {budget // 1000}k", lambda: p.context(q, budget_tokens=budget, record_usage=False))):
        start, cpu = time.perf_counter(), time.process_time(); call()
        out[name] = [1000 * (time.perf_counter() - start), 1000 * (time.process_time() - cpu)]
    print(json.dumps(out), flush=True)
"""
CALLS = ("search", "context 2k", "context 8k")


def env_for(src: Path, home: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "PRISM_HOME": str(home)}


def index(src: Path, home: Path, tree: Path, force: bool) -> tuple[float, float]:
    """(wall s, CPU s of the process and its children) of one `prism index --no-embed`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "prism", "index", str(tree), "--no-embed", "--quiet",
                    *(["--force"] if force else [])], env=env_for(src, home), cwd=tree, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - start, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def queries(home: Path, count: int, seed: int = 7) -> list[str]:
    """`count` task phrasings about the tree's documented functions (deterministic)."""
    db = next(home.glob("projects/*/index.db"))
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute("SELECT name, docstring, path FROM chunks WHERE kind IN ('function', 'method', 'class')"
                        " AND docstring != '' ORDER BY id").fetchall()
    conn.close()
    rng = random.Random(seed)
    rng.shuffle(rows)
    templates = ("fix the bug in {n}", "how does {n} work", "where is {n} defined", "{d}", "refactor {n} in {m}")
    out: dict[str, None] = {}
    for name, doc, path in rows:
        words = " ".join(re.sub(r"[^A-Za-z0-9 ]", " ", doc.split("\n")[0]).split()[:12])
        out[rng.choice(templates).format(n=name, d=words or name, m=path.rsplit("/", 1)[-1])] = None
        if len(out) == count:
            break
    return list(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--baseline", type=Path, required=True, help="the baseline checkout's src folder")
    ap.add_argument("--homes", type=Path, default=Path("/tmp/prism-ab-homes"))
    ap.add_argument("--queries", type=int, default=80)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--index-rounds", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    sides = {"this checkout": SRC, "baseline": args.baseline.resolve()}
    homes = {label: args.homes / label.replace(" ", "-") for label in sides}
    lines = [f"## Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: context vs search, A/B on {args.tree.name}", "",
             f"- machine: nproc {os.cpu_count()}, Python {platform.python_version()}; "
             f"load average at start {load_average()}",
             f"- this checkout {SRC}, baseline {sides['baseline']}",
             "- command: `flock /tmp/prism-bench.lock python benchmarks/context_search_ab.py "
             f"{' '.join(sys.argv[1:])}`"]
    timings: dict[str, list[tuple[float, float]]] = {label: [] for label in sides}
    for r in range(args.index_rounds):
        for label in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            timings[label].append(index(sides[label], homes[label], args.tree, force=True))
    for label in sides:
        if not any(homes[label].glob("projects/*/index.db")):
            index(sides[label], homes[label], args.tree, force=False)
    if args.index_rounds:
        lines += ["", "| cold lexical index | rounds | wall s (each) | CPU s, reaped children (each) |",
                  "|---|---|---|---|"]
        for label, runs in timings.items():
            lines.append(f"| {label} | {len(runs)} | {', '.join(f'{w:.1f}' for w, _ in runs)} | "
                         f"{', '.join(f'{c:.1f}' for _, c in runs)} |")
    asked = queries(homes["this checkout"], args.warmup + args.queries)
    workers = {label: subprocess.Popen([sys.executable, "-c", WORKER, str(args.tree)], env=env_for(src, homes[label]),
                                       cwd=args.tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for label, src in sides.items()}
    times: dict[str, dict[str, list[float]]] = {label: {c: [] for c in CALLS} for label in sides}
    cpu_times: dict[str, dict[str, list[float]]] = {label: {c: [] for c in CALLS} for label in sides}
    for i, query in enumerate(asked):
        # The order turns every second question: the budget turns every question, so each budget
        # sees both orders (the second process of a pair runs measurably slower on this box).
        for label in (list(sides) if (i // 2) % 2 == 0 else list(sides)[::-1]):
            worker = workers[label]
            assert worker.stdin is not None and worker.stdout is not None
            worker.stdin.write(json.dumps([query, (2000, 8000)[i % 2]]) + "\n")  # one budget per question
            worker.stdin.flush()
            result = json.loads(worker.stdout.readline())
            if i >= args.warmup:
                for call, (ms, cpu_ms) in result.items():
                    times[label][call].append(ms)
                    cpu_times[label][call].append(cpu_ms)
    for worker in workers.values():
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait()
    for unit, table in (("wall ms", times), ("CPU ms of the worker process (steadier on a loaded box)", cpu_times)):
        lines += ["", f"{args.queries} new questions each (after {args.warmup} to warm up; half at 2k, half at 8k), "
                  f"{unit}:", "",
                  "| checkout | search p50 | p95 | context 2k p50 | p95 | context 8k p50 | p95 | 2k/search (p50) "
                  "| 8k/search (p50) |", "|---|---|---|---|---|---|---|---|---|"]
        for label, by_call in table.items():
            s, c2, c8 = by_call["search"], by_call["context 2k"], by_call["context 8k"]
            lines.append(f"| {label} | {pct(s, .5):.1f} | {pct(s, .95):.1f} | {pct(c2, .5):.1f} | {pct(c2, .95):.1f} | "
                         f"{pct(c8, .5):.1f} | {pct(c8, .95):.1f} | {pct(c2, .5) / pct(s, .5):.2f}× | "
                         f"{pct(c8, .5) / pct(s, .5):.2f}× |")
    lines.append(f"\n- load average at end {load_average()}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
