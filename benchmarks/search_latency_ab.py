"""Warm search of one tree: two PRISM source trees A/B, interleaved query by query, beside `rg -c -i`.

    flock /tmp/prism-bench.lock .venv/bin/python benchmarks/search_latency_ab.py TREE \
        --a /work/main/src --b src [--rounds 3] [--out FILE] [--reuse-index --home HOME] [--min-words 300]

With --reuse-index the index already in HOME is searched as it is: hybrid when it holds vectors
(e.g. a copy of the `bigindex.py` index filled by `fill_benchmark_vectors(big, index_dir=…)`).

The tree is indexed once (`prism index --no-embed` with variant A, in a PRISM_HOME of its own
unless --home names one); then one warm worker process per variant opens that same index
and answers `Prism.search(query, limit=10)` with the engine's result cache cleared, as a
lexical project's search runs (lexical + exact + features). The two workers take each query
in turn, the first of the pair alternating, so machine noise falls on both. Wall and CPU
(the worker's process time) are per query; the workers also report every hit's id and
score, and the run counts the queries whose results differ between A and B (by id, order or
score, compared exactly). Queries: short ones about the tree, and the SWE-bench Lite dev
problem statements as they are. Beside them, `rg -c -i WORD TREE` (the query's longest word;
its wall and CPU as a fresh process, getrusage of the child).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata
from evaldata import percentile as pct

SHORT = ["parse sql dialect keywords", "lint rule for aliases", "jinja templater macros",
         "where are config files loaded", "BaseSegment", "reflow indent points", "noqa comment",
         "snowflake dialect grammar", "raise ValueError when missing", "capitalisation policy",
         "parse error unparsable segment", "get_config"]


def worker() -> None:
    """Answer JSON lines {query} on stdin with {wall_ms, cpu_ms, hits} on stdout (clock frozen)."""
    from prism.engine import Prism

    clock = float(sys.argv[3])
    time.time = lambda: clock  # recency reads the clock: A and B must score at the same instant
    prism = Prism(Path(sys.argv[2]))
    prism.search("warm up", limit=10)
    print(json.dumps({"chunks": prism.store.stats()["chunks"]}), flush=True)
    for line in sys.stdin:
        query = json.loads(line)["query"]
        prism.cache.clear()  # the engine caches rankings and query vectors per request: time the work
        cpu, wall = time.process_time(), time.perf_counter()
        hits = prism.search(query, limit=10).hits
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({"wall_ms": wall * 1000, "cpu_ms": cpu * 1000,
                          "hits": [[h.chunk.id, h.score] for h in hits]}), flush=True)


class Variant:
    """One warm worker process on one PYTHONPATH."""

    def __init__(self, src: Path, tree: Path, env: dict[str, str], clock: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(tree), repr(clock)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env={**env, "PYTHONPATH": str(src.resolve())})
        self.chunks = int(json.loads(self.ask_line())["chunks"])

    def ask_line(self, payload: str | None = None) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if payload is not None:
            self.proc.stdin.write(payload + "\n")
            self.proc.stdin.flush()
        return self.proc.stdout.readline()

    def search(self, query: str) -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(self.ask_line(json.dumps({"query": query})))
        return reply

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def repeated(text: str, words: int) -> str:
    """`text` written again after itself (a blank line between) until it has at least `words` words."""
    out = text
    while len(out.split()) < words:
        out = f"{out}\n\n{text}"
    return out


def grep_word(query: str) -> str:
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", query.splitlines()[0] if query.strip() else query)
    return str(max(words or ["def"], key=len))


def rg(word: str, tree: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["rg", "-c", "-i", word, str(tree)], stdout=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall * 1000, ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path)
    parser.add_argument("--a", type=Path, required=True, help="PYTHONPATH of variant A (e.g. main's src)")
    parser.add_argument("--b", type=Path, required=True, help="PYTHONPATH of variant B (this branch's src)")
    parser.add_argument("--home", type=Path, help="PRISM_HOME holding the tree's index (made if absent)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the markdown section here")
    parser.add_argument("--reuse-index", action="store_true",
                        help="search the index already in --home as it is (e.g. one with vectors) instead of "
                             "running `prism index --no-embed` first")
    parser.add_argument("--min-words", type=int, default=0,
                        help="also time the problem statements repeated to at least this many words")
    args = parser.parse_args()
    tree = args.tree.resolve()
    load_at_start = evaldata.load_average()
    home = args.home or Path(tempfile.mkdtemp(prefix="prism-search-ab-"))
    env = {**os.environ, "PRISM_HOME": str(home)}
    if not args.reuse_index:
        subprocess.run([sys.executable, "-m", "prism", "index", str(tree), "--no-embed"], check=True,
                       env={**env, "PYTHONPATH": str(args.a.resolve())}, stdout=subprocess.DEVNULL)
    long_queries = [json.loads(line)["problem_statement"]
                    for line in evaldata.SWE_JSONL.read_text(encoding="utf-8").splitlines() if line.strip()]
    clock = time.time()
    variants = {"A": Variant(args.a, tree, env, clock), "B": Variant(args.b, tree, env, clock)}
    sets = {"short": SHORT, "issue text": long_queries}
    if args.min_words:
        sets[f"issue text ≥ {args.min_words} words"] = [repeated(q, args.min_words) for q in long_queries]
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    differ: dict[str, set[int]] = {name: set() for name in sets}
    turn = 0
    for _ in range(args.rounds):
        for name, queries in sets.items():
            for index, query in enumerate(queries):
                order = ("A", "B") if turn % 2 == 0 else ("B", "A")
                turn += 1
                replies = {v: variants[v].search(query) for v in order}
                for v, reply in replies.items():
                    times.setdefault((name, v), []).append((reply["wall_ms"], reply["cpu_ms"]))
                if replies["A"]["hits"] != replies["B"]["hits"]:
                    differ[name].add(index)
                times.setdefault((name, "rg"), []).append(rg(grep_word(query), tree))
    for variant in variants.values():
        variant.close()
    kind = "the index in --home as found (--reuse-index)" if args.reuse_index else "lexical index"
    lines = [
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='minutes')}",
        f"- machine: {evaldata.machine()}; load average at start {load_at_start}, at end "
        f"{evaldata.load_average()} (shared box: other jobs were running)",
        f"- command: `flock /tmp/prism-bench.lock .venv/bin/python benchmarks/search_latency_ab.py "
        f"{' '.join(sys.argv[1:])}`",
        f"- tree: {tree} ({variants['B'].chunks:,} chunks, {kind}); A = {args.a}, B = {args.b}; "
        f"{args.rounds} rounds of "
        f"{len(SHORT)} short queries and {len(long_queries)} SWE-bench Lite dev problem statements, "
        "A and B alternating per query",
        "- results identical (ids, order, scores): "
        + ", ".join(f"{name} {len(qs) - len(differ[name])}/{len(qs)}" for name, qs in sets.items()),
        "",
        "| queries | run | p50 wall ms | p95 wall ms | p50 CPU ms | p95 CPU ms | ÷ A p50 wall | ÷ A p95 wall |"
        " ÷ A mean CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in sets:
        base = times[(name, "A")]
        for v, label in (("A", "A (baseline)"), ("B", "B"), ("rg", "`rg -c -i WORD`")):
            rows = times[(name, v)]
            wall, cpu = [w for w, _ in rows], [c for _, c in rows]
            ratio = ""
            if v != "A":
                ratio = (f" {pct(wall, 0.5) / pct([w for w, _ in base], 0.5):.2f} |"
                         f" {pct(wall, 0.95) / pct([w for w, _ in base], 0.95):.2f} |"
                         f" {statistics.mean(cpu) / statistics.mean([c for _, c in base]):.2f} |")
            else:
                ratio = " 1 | 1 | 1 |"
            lines.append(f"| {name} | {label} | {pct(wall, 0.5):.1f} | {pct(wall, 0.95):.1f} | "
                         f"{pct(cpu, 0.5):.1f} | {pct(cpu, 0.95):.1f} |{ratio}")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker()
    else:
        main()
