"""Query routing: which dev queries the rule sends to the dense stage, and what skipping it saves.

For every dev set (SWE-bench Lite dev and Multi-SWE dev issue texts, CoSQA dev questions) it
counts the queries `query.dense_helps` routes to dense, and times the dense stage's model call
on each query (its windows embedded by the bundled MiniLM, best of `--repeat`; the vector
search that follows is one matrix product, not counted): the time a skipped query saves. The
quality side (routed vs dense on every query) comes from swebench_eval.py and cosqa_eval.py.

    flock /tmp/prism-bench.lock .venv/bin/python benchmarks/query_routing.py [--out FILE]
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

from prism.index.embed import load_embedder
from prism.retrieve.dense import query_windows
from prism.retrieve.query import dense_helps, parse_query


def dev_sets() -> dict[str, list[str]]:
    multiswe, _ = evaldata.load_multiswe()
    _, cosqa = evaldata.load_cosqa()
    return {
        "SWE-bench Lite dev (issue texts)": [r["problem_statement"] for r in evaldata.load_swebench()],
        "Multi-SWE dev (Rust, Java, C++ issue texts)": [r["problem_statement"] for r in multiswe],
        "CoSQA dev (web questions)": [q["query"] for q in cosqa],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    load_at_start = evaldata.load_average()
    embedder = load_embedder("minilm", threads=a.threads)
    embedder.embed_queries(["warm up the model"])
    rows = []
    for name, texts in dev_sets().items():
        parsed = [parse_query(t) for t in texts]
        routed = [dense_helps(q) for q in parsed]
        ms: list[float] = []
        for q in parsed:
            windows = query_windows(q)
            best = float("inf")
            for _ in range(a.repeat):
                started = time.perf_counter()
                embedder.embed_queries(windows)
                best = min(best, time.perf_counter() - started)
            ms.append(best * 1000)
        skipped = [m for m, r in zip(ms, routed, strict=True) if not r]
        rows.append(f"| {name} | {len(texts)} | {sum(routed)} | {len(texts) - sum(routed)} | "
                    f"{statistics.fmean(ms):.1f} | {evaldata.percentile(ms, 0.5):.1f} | "
                    f"{sum(skipped) / len(texts):.1f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    lines = [
        "## Query routing: queries sent to dense, and the dense model time skipped",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='minutes')}",
        f"- machine: {evaldata.machine()}; load average at start {load_at_start}, at end {evaldata.load_average()}",
        f"- command: `flock /tmp/prism-bench.lock .venv/bin/python benchmarks/query_routing.py "
        f"{' '.join(sys.argv[1:])}`",
        f"- dense model ms: the query's windows through MiniLM ({a.threads} threads), best of {a.repeat}",
        "",
        "| set | queries | routed to dense | dense skipped | dense model ms/query (mean) | median | "
        "saved ms/query (mean over the set) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    if a.out:
        a.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
