"""`Prism.context` latency on a ≥ 100k-chunk index (budgets 2k/8k/32k), with search latency beside it.

One warm process, sequential requests (no concurrency), on the index from `bigindex.py`.
Two retrieval set-ups: lexical only (no vectors in the index), and with a vector for every
chunk (real MiniLM vectors where the shared cache has them, otherwise deterministic random
unit vectors under the MiniLM id — see `bigindex.fill_benchmark_vectors`; brute-force dense
costs the same whatever the values, ranking quality is meaningless there). Queries: short
task phrasings, and SWE-bench Lite dev problem statements cut or repeated to ~2,000 tokens.

Reports wall-clock p50/p95 and the process CPU time per call (the box is shared: with other
jobs running, wall time is inflated by waiting for a core; CPU time is not). Usage:

    .venv/bin/python benchmarks/context_latency.py [--out benchmarks/results/context_latency.md]
        [--repeat 2] [--modes lexical,dense,pack] [--keep-vectors] [--cold-memos]

    # the pack stage alone, before/after on identical hits (capture once, then both checkouts):
    .venv/bin/python benchmarks/context_latency.py --modes pack
    PYTHONPATH=OLD_CHECKOUT/src .venv/bin/python benchmarks/context_latency.py --modes pack
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bigindex import BigIndex, build_big_index, drop_benchmark_vectors, fill_benchmark_vectors

import prism
from prism.engine import Prism

try:
    from prism.engine import ResultCache
except ImportError:  # measuring a commit from before the result cache
    ResultCache = None  # type: ignore[assignment,misc]

SWE_JSONL = Path("/work/shared/eval/swebench_lite_dev.jsonl")
SHORT = ["fix the crash when parsing a jinja template", "how does the linter apply fixes",
         "where is the dialect registry defined", "add support for a new rule option",
         "solar position azimuth is wrong near the poles", "infer the return type of a call",
         "read a DICOM file header", "write tests for the nested schema validation",
         "rename the Dataset class", "irradiance transposition model"]
BUDGETS = (2000, 8000, 32000)


def long_queries(prism_: Prism, count: int = 10, tokens: int = 2000) -> list[str]:
    """SWE-bench problem statements, repeated and cut to `tokens` tokens."""
    enc = prism_.tokenizer
    rows = [json.loads(line) for line in SWE_JSONL.read_text().splitlines() if line.strip()]
    out: list[str] = []
    for row in rows[:count]:
        text = str(row["problem_statement"])
        ids = enc.encode(text * (1 + tokens * 5 // max(len(text), 1)))
        out.append(enc.decode(ids[:tokens]))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def forget_memos() -> None:
    """Empty the pack stage's process-wide memos (parsed chunks, rendered levels, block counts)."""
    from prism.pack import degrade, select

    degrade._analyse.cache_clear()
    for name in ("_COUNTED", "_RENDERED"):  # absent before the memos existed
        memo = getattr(select, name, None)
        if memo is not None:
            memo._data.clear()


COLD = {"memos": False}


def timed(call: Callable[[str], object], queries: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """(wall ms, process CPU ms) of every call; with COLD["memos"] the memos are emptied first."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeat):
        for query in queries:
            if COLD["memos"]:
                forget_memos()
            wall, cpu = time.perf_counter(), time.process_time()
            call(query)
            cpus.append(1000 * (time.process_time() - cpu))
            walls.append(1000 * (time.perf_counter() - wall))
    return walls, cpus


def row(label: str, walls: list[float], cpus: list[float]) -> str:
    return (f"| {label} | {len(walls)} | {pct(walls, .5):,.0f} | {pct(walls, .95):,.0f} | "
            f"{pct(cpus, .5):,.0f} | {pct(cpus, .95):,.0f} |")


def measure(big: BigIndex, mode: str, repeat: int) -> list[str]:
    with big.open() as prism_:
        if ResultCache is not None:
            prism_.results = ResultCache(size=0)  # measure the work, not the result cache
        short, long = SHORT, long_queries(prism_)
        for query in (short[0], long[0]):  # warm: model, vector matrix, caches of term stats
            prism_.search(query)
            prism_.context(query, record_usage=False)
        warnings = prism_.search(short[0]).warnings
        lines = [f"\n### {mode}" + (f" (search warnings: {'; '.join(warnings)})" if warnings else ""), "",
                 "| call | n | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms |", "|---|---|---|---|---|---|"]
        for label, queries in (("short", short), ("long ~2k tokens", long)):
            lines.append(row(f"search, {label} (limit 10)", *timed(lambda q: prism_.search(q), queries, repeat)))
        for budget in BUDGETS:
            for label, queries in (("short", short), ("long ~2k tokens", long)):
                def call(query: str, b: int = budget) -> object:
                    return prism_.context(query, budget_tokens=b)
                lines.append(row(f"context {budget:,}, {label}", *timed(call, queries, repeat)))
                print(lines[-1], file=sys.stderr, flush=True)
        both = [*short, *long]
        walls, cpus = timed(lambda q: prism_.context(q, budget_tokens=8000), both, repeat)
        lines.append(row("**context 8,000, all queries**", walls, cpus))
        if ResultCache is not None:
            prism_.results = ResultCache()
            prism_.context(short[0], budget_tokens=8000)
            walls, cpus = timed(lambda q: prism_.context(q, budget_tokens=8000), [short[0]] * 10, 1)
            lines.append(row("context 8,000, the same request again (result cache hit)", walls, cpus))
    return lines


def measure_pack_only(big: BigIndex, hits_file: Path) -> list[str]:
    """`build_pack` CPU alone (no search, no savings) on hits captured once, memos emptied per call.

    The hits are pickled to hits_file on first use and reused, so two checkouts (before/after)
    pack exactly the same input.
    """
    import pickle

    from prism.pack.intent import profile_for
    from prism.pack.packer import build_pack, resolve_intent
    from prism.pack.tokens import get_tokenizer

    if not hits_file.exists():
        with big.open() as prism_:
            data = [(q, prism_.search(q, limit=min(profile_for(resolve_intent(q, None)).candidates, 100)).hits)
                    for q in [*SHORT, *long_queries(prism_)]]
        hits_file.write_bytes(pickle.dumps(data))
    data = pickle.loads(hits_file.read_bytes())
    tokenizer = get_tokenizer("cl100k_base")
    lines = ["\n### pack stage alone (memos emptied before each call)", "",
             "| format, budget | n | CPU p50 ms | CPU p95 ms |", "|---|---|---|---|"]
    for fmt in ("markdown", "json"):
        for budget in BUDGETS:
            cpus: list[float] = []
            for query, hits in data:
                forget_memos()
                started = time.process_time()
                build_pack(query, hits, budget_tokens=budget, tokenizer=tokenizer, fmt=fmt)
                cpus.append(1000 * (time.process_time() - started))
            lines.append(f"| {fmt} {budget:,} | {len(cpus)} | {pct(cpus, .5):,.0f} | {pct(cpus, .95):,.0f} |")
    return lines


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--modes", default="lexical,dense",
                    help="comma-separated: lexical, dense (benchmark vectors), pack (pack stage alone)")
    ap.add_argument("--hits", type=Path, default=Path.home() / ".cache" / "prism-bench" / "hits.pkl",
                    help="pack mode: captured hits, reused across checkouts")
    ap.add_argument("--keep-vectors", action="store_true", help="leave the benchmark vectors in the index")
    ap.add_argument("--label", default="", help="a note for the results header (e.g. the commit)")
    ap.add_argument("--cold-memos", action="store_true",
                    help="empty the pack memos before every call (no chunk seen before)")
    args = ap.parse_args()
    COLD["memos"] = args.cold_memos
    modes = [m for m in args.modes.split(",") if m]
    big = build_big_index()
    header = [f"## Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC {args.label}".rstrip(), "",
              f"- machine: {machine()}; load average at start {load()}",
              f"- index: {big.chunks:,} chunks, {len(big.trees)} trees ({', '.join(big.trees)})",
              f"- prism imported from {Path(prism.__file__).parent}",
              f"- command: `.venv/bin/python benchmarks/context_latency.py {' '.join(sys.argv[1:])}`".rstrip()]
    body: list[str] = []
    for mode in modes:
        if mode == "pack":
            body.extend(measure_pack_only(big, args.hits))
            continue
        if mode == "lexical":
            drop_benchmark_vectors(big)
        elif mode == "dense":
            real, fake = fill_benchmark_vectors(big)
            body.append(f"\n(dense: {real:,} real MiniLM vectors from the shared cache, {fake:,} random "
                        "unit vectors under the MiniLM id — latency only)")
        body.extend(measure(big, mode, args.repeat))
    if "dense" in args.modes and not args.keep_vectors:
        drop_benchmark_vectors(big)
    header.append(f"- load average at end {load()}")
    text = "\n".join([*header, *body]) + "\n"
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
