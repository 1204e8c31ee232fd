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

    # the pack stage alone, on identical hits (captured once), this checkout beside another one:
    .venv/bin/python benchmarks/context_latency.py --modes pack --baseline OLD_CHECKOUT/src

The pack mode reports `build_pack` CPU for 60 questions (the 20 above and 40 generated from
the index's documented functions) with cold memos (emptied before every call: no chunk seen
before; the best of three) and warm ones (a server that has answered --warmup other generated
questions in the same format and budget; each measured question is new to it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bigindex import BigIndex, build_big_index, drop_benchmark_vectors, fill_benchmark_vectors
from evaldata import percentile as pct

import prism
from prism.engine import Prism
from prism.models import Hit

try:
    from prism.cache import MemoryCache
except ImportError:  # measuring a commit from before the Cache contract
    MemoryCache = None  # type: ignore[assignment,misc]
try:
    from prism.engine import ResultCache
except ImportError:  # measuring a commit from before the result cache, or after the Cache contract
    ResultCache = None  # type: ignore[assignment,misc]


def set_cache(prism_: Prism, entries: int) -> None:
    """The engine's result cache, holding `entries` results (0: none), on either side of the Cache contract."""
    if MemoryCache is not None:
        prism_.cache = MemoryCache(entries)
    elif ResultCache is not None:
        prism_.results = ResultCache(size=entries)

SWE_JSONL = Path("/work/shared/eval/swebench_lite_dev.jsonl")
SHORT = ["fix the crash when parsing a jinja template", "how does the linter apply fixes",
         "where is the dialect registry defined", "add support for a new rule option",
         "solar position azimuth is wrong near the poles", "infer the return type of a call",
         "read a DICOM file header", "write tests for the nested schema validation",
         "rename the Dataset class", "irradiance transposition model"]
BUDGETS = (2000, 8000, 32000)
HELD_OUT = 40  # pack mode: generated questions measured (never among the warm-up ones)


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


def forget_memos(degrade: ModuleType | None = None, select: ModuleType | None = None) -> None:
    """Empty the pack stage's process-wide memos (rendered levels, block shapes and counts).

    Also for older checkouts (an lru_cache on parsed chunks, memos without `clear`).
    """
    if degrade is None or select is None:
        from prism.pack import degrade, select

    cache_clear = getattr(getattr(degrade, "_analyse", None), "cache_clear", None)
    if cache_clear is not None:
        cache_clear()
    for module in (degrade, select):
        for name in ("_COUNTED", "_RENDERED", "_RENDERS", "_SHAPES"):
            memo = getattr(module, name, None)
            if memo is not None:
                memo.clear() if hasattr(memo, "clear") else memo._data.clear()


@dataclass(frozen=True)
class PackStage:
    """One checkout's pack stage, as its own modules: pack a query (→ CPU ms, text), empty its memos."""

    label: str
    pack: Callable[[str, list[Hit], int, str, str], tuple[float, str]]
    forget: Callable[[], None]


def pack_stage(label: str, src: Path | None = None) -> PackStage:
    """The pack stage imported here, or (src) that of another checkout's src folder, loaded beside it."""
    saved: dict[str, ModuleType] = {}
    if src is not None:  # import that tree's prism under the same names, then put ours back
        saved = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "prism"}
        for name in saved:
            del sys.modules[name]
        sys.path.insert(0, str(src))
    try:
        packer, degrade, select, tokens = (importlib.import_module(f"prism.pack.{name}")
                                           for name in ("packer", "degrade", "select", "tokens"))
    finally:
        if src is not None:
            sys.path.remove(str(src))
            for name in [name for name in sys.modules if name.split(".")[0] == "prism"]:
                del sys.modules[name]
            sys.modules.update(saved)
    tokenizer = tokens.get_tokenizer("cl100k_base")

    def pack(query: str, hits: list[Hit], budget: int, fmt: str, intent: str) -> tuple[float, str]:
        started = time.process_time()
        made = packer.build_pack(query, hits, budget_tokens=budget, tokenizer=tokenizer, fmt=fmt, intent=intent)
        return 1000 * (time.process_time() - started), str(made.text)

    return PackStage(f"{label} ({Path(str(packer.__file__)).parents[2]})", pack, lambda: forget_memos(degrade, select))


def warmup_queries(prism_: Prism, count: int, seed: int = 7) -> list[str]:
    """`count` distinct task phrasings about the index's own documented functions (deterministic)."""
    import random
    import re
    import sqlite3

    conn = sqlite3.connect(f"file:{prism_.index_dir / 'index.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, docstring, path FROM chunks WHERE kind IN ('function', 'method', "
                            "'class') AND docstring != '' ORDER BY id").fetchall()
    finally:
        conn.close()
    rng = random.Random(seed)
    rng.shuffle(rows)
    templates = ("fix the bug in {n}", "how does {n} work", "where is {n} defined", "add an option to {n}",
                 "write tests for {n}", "{d}", "refactor {n} in {m}", "{d} ({n})")
    out: dict[str, None] = {}
    for name, doc, path in rows:
        words = " ".join(re.sub(r"[^A-Za-z0-9 ]", " ", doc.split("\n")[0]).split()[:12])
        out[rng.choice(templates).format(n=name, d=words or name, m=path.rsplit("/", 1)[-1])] = None
        if len(out) == count:
            break
    return list(out)


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
        set_cache(prism_, 0)  # measure the work, not the result cache
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
        if MemoryCache is not None or ResultCache is not None:
            set_cache(prism_, 256)
            prism_.context(short[0], budget_tokens=8000)
            walls, cpus = timed(lambda q: prism_.context(q, budget_tokens=8000), [short[0]] * 10, 1)
            lines.append(row("context 8,000, the same request again (result cache hit)", walls, cpus))
    return lines


def measure_pack_only(big: BigIndex, hits_file: Path, warmup: int, baseline: Path | None) -> list[str]:
    """`build_pack` CPU alone (no search, no savings) on hits captured once, memos cold and warm.

    The hits are pickled to hits_file on first use and reused, so every checkout packs exactly
    the same input; so are those of the generated questions (beside it): `warmup` of them warm
    the memos, HELD_OUT more are measured with the 20 of hits_file. With a baseline (another
    checkout's src folder) both pack stages run in this process, call by call in alternating
    order, so a noisy box slows both alike; their packs are compared too.
    """
    import pickle

    from prism.pack.intent import profile_for
    from prism.pack.packer import resolve_intent

    def capture(path: Path, queries: Callable[[Prism], list[str]]) -> list[tuple[str, list[Hit]]]:
        if not path.exists():
            with big.open() as prism_:
                data = [(q, prism_.search(q, limit=min(profile_for(resolve_intent(q, None)).candidates, 100)).hits)
                        for q in queries(prism_)]
            path.write_bytes(pickle.dumps(data))
        loaded: list[tuple[str, list[Hit]]] = pickle.loads(path.read_bytes())
        return loaded

    generated = capture(hits_file.with_name(f"{hits_file.stem}-generated{warmup + HELD_OUT}.pkl"),
                        lambda p: warmup_queries(p, warmup + HELD_OUT))
    data = capture(hits_file, lambda p: [*SHORT, *long_queries(p)]) + generated[warmup:]
    others = generated[:warmup]
    intents = {query: resolve_intent(query, None) for query, _ in [*data, *others]}
    stages = [pack_stage("this checkout")] + ([pack_stage("baseline", baseline)] if baseline else [])

    def in_turn(i: int) -> list[PackStage]:
        return stages[i % len(stages):] + stages[:i % len(stages)]

    for query, hits in others[:5]:  # one-time costs: grammars, queries, vocabularies
        for stage in stages:
            stage.pack(query, hits, 2000, "json", intents[query])
    lines = [f"\n### pack stage alone (intent given; cold: memos emptied before each call, best of 3; warm: "
             f"after {len(others)} other questions in the same format and budget)", "",
             "| format, budget | checkout | n | cold CPU p50 ms | cold p95 | cold mean | warm CPU p50 ms | warm p95 "
             "| warm mean |", "|---|---|---|---|---|---|---|---|---|"]
    packs = {"same": 0, "compared": 0}

    def measure_one(i: int, query: str, hits: list[Hit], budget: int, fmt: str, times: dict[str, list[float]],
                    fresh: bool) -> None:
        """Pack with every stage, in turn (the best of 3 when fresh: memos emptied first)."""
        best: dict[str, float] = {}
        texts: set[str] = set()
        for turn in range(3 if fresh else 1):
            for stage in in_turn(i + turn):
                if fresh:
                    stage.forget()
                cpu, text = stage.pack(query, hits, budget, fmt, intents[query])
                best[stage.label] = min(best.get(stage.label, cpu), cpu)
                texts.add(text)
        for label, cpu in best.items():
            times[label].append(cpu)
        packs["same"] += len(texts) == 1
        packs["compared"] += 1

    for fmt in ("markdown", "json"):
        for budget in BUDGETS:
            cold: dict[str, list[float]] = {stage.label: [] for stage in stages}
            warm: dict[str, list[float]] = {stage.label: [] for stage in stages}
            for i, (query, hits) in enumerate(data):
                measure_one(i, query, hits, budget, fmt, cold, fresh=True)
            for stage in stages:
                stage.forget()
            for i, (query, hits) in enumerate(others):
                for stage in in_turn(i):
                    stage.pack(query, hits, budget, fmt, intents[query])
            for i, (query, hits) in enumerate(data):
                measure_one(i, query, hits, budget, fmt, warm, fresh=False)
            for stage in stages:
                c, w, base = cold[stage.label], warm[stage.label], stages[-1].label
                ratio = (f" ({mean(c) / mean(cold[base]):.2f}×)", f" ({mean(w) / mean(warm[base]):.2f}×)") \
                    if stage is not stages[-1] else ("", "")
                lines.append(f"| {fmt} {budget:,} | {stage.label} | {len(c)} | {pct(c, .5):,.0f} | "
                             f"{pct(c, .95):,.0f} | {mean(c):,.1f}{ratio[0]} | {pct(w, .5):,.0f} | "
                             f"{pct(w, .95):,.0f} | {mean(w):,.1f}{ratio[1]} |")
                print(lines[-1], file=sys.stderr, flush=True)
    if baseline:
        lines.append(f"\nPacks identical in both checkouts: {packs['same']} of {packs['compared']} (cold and warm).")
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
    ap.add_argument("--warmup", type=int, default=300,
                    help="pack mode: questions answered before the warm measurement")
    ap.add_argument("--baseline", type=Path,
                    help="pack mode: another checkout's src folder, measured in the same run (ratios)")
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
            body.extend(measure_pack_only(big, args.hits, args.warmup, args.baseline))
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
