"""CoSQA dev: web queries → the one Python function that answers each (MRR, R@1/5/10).

The 6,267 corpus functions are written as one file each (`corpus/<id>.py`, the code as given,
methods dedented) into the eval cache and indexed by PRISM like any project; a query's rank is
the rank of its gold file in `search(files=True)`. The reference BM25 runs in the same
invocation on the same data.

    .venv/bin/python benchmarks/cosqa_eval.py [--no-embed] [--out benchmarks/results/cosqa_dev.md]
    .venv/bin/python benchmarks/cosqa_eval.py --database-url pgserver    # the index in PostgreSQL
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import textwrap
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata
from pgtemp import postgres

from prism.retrieve.search import SearchConfig, with_weights


def materialise() -> Path:
    root = evaldata.cache_dir() / "cosqa"
    folder = root / "corpus"
    corpus, _ = evaldata.load_cosqa()
    folder.mkdir(parents=True, exist_ok=True)
    for row in corpus:
        path = folder / f"{row['id']}.py"
        text = source_text(row["code"]) + "\n"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")  # unchanged files keep their mtime: no re-index
    return root


def source_text(code: str) -> str:
    """A corpus function as a valid module: methods arrive with their body indented for a class
    (8 spaces under a 0-indented `def`), so the body is re-indented to 4 spaces; it must stay
    inside the function, or the chunker sees an empty `def` and a module-level body."""
    first, _, rest = code.partition("\n")
    if not rest.startswith((" ", "\t")):
        return code
    return first + "\n" + textwrap.indent(textwrap.dedent(rest), "    ")


def score(prism: Any, queries: list[dict[str, Any]], cfg: SearchConfig) -> tuple[float | str, ...]:
    """MRR (top 100, 0 beyond), R@1, R@5, R@10 in percent, the MRR of the odd and of the even rows
    (a split-half check: "odd/even"), and ms per query of one configuration."""
    rr: list[float] = []  # reciprocal rank per query, in file order (0 beyond the top 100)
    hits = {1: 0, 5: 0, 10: 0}
    started = time.perf_counter()
    for q in queries:
        res = prism.search(q["query"], limit=100, files=True, config=cfg)
        ids = [Path(h.chunk.chunk.path).stem for h in res.hits]
        ranks = [ids.index(g) + 1 for g in q["gold_ids"] if g in ids]
        rr.append(1 / min(ranks) if ranks else 0.0)
        for k in hits:
            hits[k] += bool(ranks) and min(ranks) <= k
    n = len(queries)
    ms = (time.perf_counter() - started) * 1000 / n
    halves = "/".join(f"{100 * sum(rr[i::2]) / len(rr[i::2]):.2f}" for i in (0, 1))
    return (round(100 * sum(rr) / n, 2), *(round(100 * hits[k] / n, 1) for k in hits), halves, round(ms, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-embed", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--skip-bm25", action="store_true")
    ap.add_argument("--only", nargs="*", help="only the configurations whose name starts with one of these")
    ap.add_argument("--database-url", help="index into this PostgreSQL (PostgresStore) instead of SQLite; "
                                           "`pgserver`: one kept in /tmp/prism-bench-pg (benchmarks/pgtemp.py)")
    a = ap.parse_args()
    with postgres(a.database_url) if a.database_url else nullcontext(None) as url:
        run(a, url)


def run(a: argparse.Namespace, database_url: str | None) -> None:
    load_at_start = evaldata.load_average()
    root = materialise()
    prism = evaldata.open_index(root, embed=not a.no_embed, progress=True, database_url=database_url)
    _, queries = evaldata.load_cosqa()
    base = SearchConfig()
    cfgs = {"lexical only": replace(base, dense=False, exact=False, features=False)}
    if not a.no_embed:
        hybrid = replace(base, exact=False, features=False)
        ranked = replace(hybrid, question_fusion="rank")
        cfgs["dense only"] = replace(base, lexical=False, exact=False, features=False)
        cfgs["hybrid, rank fusion, equal weights"] = with_weights(ranked, dense_nl=base.weights.dense)
        for weight in (2.0, 4.0, base.weights.dense_nl):
            cfgs[f"hybrid, rank fusion, natural-language dense weight {weight:g}"] = with_weights(
                ranked, dense_nl=weight)
        for share in (0.05, base.weights.lexical_nl, 0.2):
            default = " (default)" if share == base.weights.lexical_nl else ""
            cfgs[f"hybrid, score fusion: cosine + {share:g} × lexical{default}"] = with_weights(
                hybrid, lexical_nl=share)
        cfgs["full, rank fusion (main's default)"] = replace(base, question_fusion="rank")
        cfgs["full, score fusion without hubness correction"] = replace(base, hubness=False)
        cfgs["full (default: score fusion, + exact signals, features)"] = base
    if a.only:
        cfgs = {k: v for k, v in cfgs.items() if k.startswith(tuple(a.only))}
    rows = []
    for name, cfg in cfgs.items():
        rows.append((name, *score(prism, queries, cfg)))
        print(rows[-1], file=sys.stderr, flush=True)
    bm25 = {} if a.skip_bm25 else evaldata.run_bm25_baseline("cosqa")
    command = ".venv/bin/python benchmarks/cosqa_eval.py " + " ".join(sys.argv[1:])
    lines = [
        "# CoSQA dev: query → function",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='minutes')}",
        f"- machine: {evaldata.machine()}; load average at start {load_at_start}, at end "
        f"{evaldata.load_average()} (shared box: ms/query is noisy)",
        f"- command: `{command.strip()}`",
        f"- {len(queries)} queries over {prism.store.stats()['files']} functions (one file per corpus id); "
        "MRR over the top 100 (0 beyond)",
        f"- store: {type(prism.store).__name__}",
        "",
        "| configuration | MRR | R@1 | R@5 | R@10 | MRR odd / even rows | ms/query |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| reference BM25 (shared tool) | {bm25.get('MRR', '')} | {bm25.get('R@1', '')} | "
        f"{bm25.get('R@5', '')} | {bm25.get('R@10', '')} | | |",
    ]
    lines += [f"| {' | '.join(str(v) for v in r)} |" for r in rows]
    table = "\n".join(lines) + "\n"
    print(table)
    if a.out:
        a.out.write_text(table, encoding="utf-8")
        a.out.with_suffix(".json").write_text(json.dumps({"bm25": bm25, "prism": rows}, indent=1))


if __name__ == "__main__":
    main()
