"""Gated lexical matching on a ≥100k-chunk index: how much of the plain OR's ranking it keeps, and its cost.

For every CoSQA dev question (short) and SWE-bench Lite dev issue text (long), asks the store
for the weighted terms `build_query` makes with and without a `limit` (with a limit, a large
match is gated on its rarer terms: `require`) and reports, against the plain OR on the same index in the same
process: overlap of the top `limit` hits and of the top 10, and mean/p95 query time.

    .venv/bin/python benchmarks/lexical_pruning.py [--out benchmarks/results/lexical_pruning.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata

from prism.retrieve.lexical import build_query
from prism.retrieve.query import parse_query


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--short", type=int, default=500, help="CoSQA dev questions to use")
    a = ap.parse_args()
    from bigindex import build_big_index

    load = evaldata.load_average()
    prism = build_big_index().open()
    store = prism.store
    chunks = store.stats()["chunks"]
    _, cosqa = evaldata.load_cosqa("dev")
    sets = {"short (CoSQA dev, limit 200)": ([r["query"] for r in cosqa[: a.short]], 200),
            "long (SWE-bench Lite dev, limit 800)": ([r["problem_statement"] for r in evaldata.load_swebench()], 800)}
    rows = []
    for label, (queries, limit) in sets.items():
        keep_all, keep_10, t_plain, t_gated, gated = [], [], [], [], 0
        for text in queries:
            query = parse_query(text)
            plain, pruned = build_query(query, store), build_query(query, store, limit=limit)
            if plain is None or pruned is None:
                continue
            started = time.perf_counter()
            full = [cid for cid, _ in store.lexical(plain.weighted, limit)]
            t_plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            got = [cid for cid, _ in store.lexical(pruned.weighted, limit, require=pruned.require)]
            t_gated.append(time.perf_counter() - started)
            gated += bool(pruned.require)
            keep_all.append(len(set(full) & set(got)) / max(1, len(full)))
            keep_10.append(len(set(full[:10]) & set(got[:10])) / max(1, len(full[:10])))
        rows.append((label, len(keep_all), gated, statistics.mean(keep_all), min(keep_all),
                     statistics.mean(keep_10), statistics.mean(t_plain) * 1000, pct(t_plain, 0.95) * 1000,
                     statistics.mean(t_gated) * 1000, pct(t_gated, 0.95) * 1000))
    lines = [f"## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — {chunks:,} chunks, load {load}", "",
             "| queries | n | gated | top-limit kept (mean / min) | top-10 kept | plain OR mean / p95 ms"
             " | gated mean / p95 ms |", "|---|---|---|---|---|---|---|"]
    for label, n, g, k, kmin, k10, tp, tp95, tg, tg95 in rows:
        lines.append(f"| {label} | {n} | {g} | {k:.2%} / {kmin:.0%} | {k10:.2%} | {tp:.1f} / {tp95:.1f}"
                     f" | {tg:.1f} / {tg95:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        header = "" if a.out.exists() else (
            "# Gated lexical matching — `benchmarks/lexical_pruning.py`\n\n"
            "Plain OR vs. the rare-term-gated expression of `prism.retrieve.lexical.build_query`, same "
            "index, same process. Machine: the shared 2-core build box.\n\n")
        with a.out.open("a", encoding="utf-8") as f:
            f.write(header + text + "\n")


if __name__ == "__main__":
    main()
