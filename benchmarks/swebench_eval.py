"""SWE-bench Lite dev: does `prism search` find the files and functions an issue's fix touched?

Query = `problem_statement` only. For each rebuildable row the project is indexed at its
base commit (indexes cached under the eval cache, see evaldata.py), then every ablation
configuration ranks files (`files=True`) and chunks; the reference BM25 runs on the same rows
in the same invocation and is printed beside ours.

    .venv/bin/python benchmarks/swebench_eval.py                 # full (needs vectors: slow once)
    .venv/bin/python benchmarks/swebench_eval.py --no-embed      # lexical + exact only
    .venv/bin/python benchmarks/swebench_eval.py --out benchmarks/results/swebench_lite_dev.md
    .venv/bin/python benchmarks/swebench_eval.py --no-embed --database-url pgserver   # on PostgreSQL
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata
from pgtemp import postgres

from prism.retrieve.search import SearchConfig

FILE_KS = (1, 3, 5, 10)
FUNC_KS = (5, 10)


def configs(dense: bool) -> dict[str, SearchConfig]:
    """The cumulative ablation: each row adds one part to the row above it."""
    base = SearchConfig()
    routed = replace(base, route_dense=True)  # dense skipped where query.dense_helps says so
    plain = replace(base, lexical_pool=1, title_boost=1.0)  # before the long-query lexical tweaks
    out = {"lexical only": replace(plain, dense=False, exact=False, features=False)}
    if dense:
        out["dense only"] = replace(plain, lexical=False, exact=False, features=False)
        out["hybrid (lexical+dense)"] = replace(plain, exact=False, features=False)
        out["+ exact signals"] = replace(plain, features=False)
        out["+ graph/features"] = plain
        out["+ primary-first lexical pool"] = replace(base, title_boost=1.0)
        out["+ title boost (full, default)"] = base
        out["full, dense routed (query.dense_helps)"] = routed
        out["full without vectors"] = replace(base, dense=False)
    else:
        out["+ exact signals"] = replace(plain, dense=False, features=False)
        out["+ graph/features"] = replace(plain, dense=False)
        out["+ primary-first lexical pool"] = replace(base, dense=False, title_boost=1.0)
        out["+ title boost (full without vectors)"] = replace(base, dense=False)
    return out


def evaluate(rows: list[dict[str, Any]], cfgs: dict[str, SearchConfig], embed: bool,
             verbose: bool, database_url: str | None = None,
             wrap: Callable[[Any, Path], Any] | None = None,
             ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, str]]]:
    """Acc@k per configuration, and per row the 'file rank/function rank' of each configuration.

    `wrap(prism, checkout)` gives the Prism to search instead of the opened one (e.g. one whose
    store answers lexical search elsewhere: lexical_engine_ab.py); the opened one is closed."""
    sums: dict[str, dict[str, float]] = {name: {} for name in cfgs}
    per_row: dict[str, dict[str, str]] = {}
    counts = {"files": 0, "functions": 0}
    for row in rows:
        root = evaldata.checkout(row)
        opened = evaldata.open_index(root, embed=embed, progress=True, database_url=database_url)
        prism = wrap(opened, root) if wrap else opened
        text = row["problem_statement"]
        gold_files = list(row["gold_files"])
        gold_funcs = list(row["gold_functions"])
        counts["files"] += 1
        counts["functions"] += bool(gold_funcs)
        for name, cfg in cfgs.items():
            files = prism.search(text, limit=100, files=True, config=cfg)
            chunks = prism.search(text, limit=100, config=cfg)
            s = sums[name]
            for stage in ("total", "dense"):  # ms of the chunk-level search (its query vectors cached by the first)
                s[f"ms_{stage}"] = s.get(f"ms_{stage}", 0.0) + files.timings_ms.get(stage, 0.0)
            franks = evaldata.file_ranks([h.chunk.chunk.path for h in files.hits], gold_files)
            granks = evaldata.function_ranks(
                [(h.chunk.chunk.path, h.chunk.chunk.qualified_name) for h in chunks.hits], gold_funcs)
            for k in FILE_KS:
                s[f"file@{k}"] = s.get(f"file@{k}", 0) + evaldata.acc_at(franks, gold_files, k)
            for k in FUNC_KS:
                if gold_funcs:
                    s[f"func@{k}"] = s.get(f"func@{k}", 0) + evaldata.acc_at(granks, gold_funcs, k)
            per_row.setdefault(row["instance_id"], {})[name] = (
                f"{_worst(franks, gold_files)}/{_worst(granks, gold_funcs) if gold_funcs else '–'}")
            if verbose:
                print(f"{row['instance_id']:38s} {name:26s} file ranks {franks} func ranks {granks}",
                      file=sys.stderr, flush=True)
        opened.close()
    out: dict[str, dict[str, float]] = {}
    for name, s in sums.items():
        out[name] = {k: round(v / counts["files"], 1) if k.startswith("ms_") else
                     round(100 * v / counts["functions" if k.startswith("func") else "files"], 1)
                     for k, v in s.items()}
    out["_counts"] = {k: float(v) for k, v in counts.items()}
    return out, per_row


def _worst(ranks: dict[str, int], gold: list[str]) -> str:
    """The rank at which every gold item has been seen ('>100' when one is missing)."""
    return str(max(ranks[g] for g in gold)) if all(g in ranks for g in gold) else ">100"


def render(results: dict[str, dict[str, float]], per_row: dict[str, dict[str, str]],
           bm25: dict[str, Any], command: str, load_at_start: str) -> str:
    counts = results.pop("_counts")
    cols = [f"file@{k}" for k in FILE_KS] + [f"func@{k}" for k in FUNC_KS]
    heads = [f"Acc@{c.split('@')[1]} {c.split('@')[0]}" for c in cols] + ["ms/query", "dense ms/query"]
    cols += ["ms_total", "ms_dense"]
    lines = [
        "# SWE-bench Lite dev: file and function localisation",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='minutes')}",
        f"- machine: {evaldata.machine()}; load average at start {load_at_start}, at end "
        f"{evaldata.load_average()} (shared box)",
        f"- command: `{command}`",
        f"- rows: {int(counts['files'])} (file level), {int(counts['functions'])} with gold functions",
        "- query: `problem_statement` only; Acc@k = every gold item in the top k",
        "- reference BM25: `python3 /work/shared/eval/tools/bm25_baseline.py swe --jsonl "
        "/work/shared/eval/swebench_lite_dev.jsonl --mirrors /work/.mirror`, run by this command",
        "- ms/query: the file-level search's total and dense stage (the first search of a row embeds "
        "its query; a noisy shared box)",
        "",
        "| configuration | " + " | ".join(heads) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    ref = [bm25.get(f"file_acc@{k}", "") for k in FILE_KS] + [bm25.get(f"func_acc@{k}", "") for k in FUNC_KS] + ["", ""]
    lines.append("| reference BM25 (shared tool, same rows) | " + " | ".join(str(v) for v in ref) + " |")
    for name, vals in results.items():
        lines.append(f"| {name} | " + " | ".join(str(vals.get(c, "")) for c in cols) + " |")
    names = list(results)
    lines += ["", "Per row: rank of the gold file / of the last gold function, per configuration.", "",
              "| row | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for row_id, ranks in per_row.items():
        lines.append(f"| {row_id} | " + " | ".join(ranks.get(n, "") for n in names) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-embed", action="store_true", help="lexical and exact signals only")
    ap.add_argument("--ids", nargs="*", help="only these instance ids")
    ap.add_argument("--only", nargs="*", help="only these configuration names")
    ap.add_argument("--out", type=Path, help="write the markdown table here")
    ap.add_argument("--skip-bm25", action="store_true", help="do not rerun the reference BM25")
    ap.add_argument("--database-url", help="index into this PostgreSQL (PostgresStore) instead of SQLite; "
                                           "`pgserver`: one kept in /tmp/prism-bench-pg (benchmarks/pgtemp.py)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    rows = evaldata.load_swebench()
    if a.ids:
        rows = [r for r in rows if r["instance_id"] in a.ids]
    cfgs = configs(dense=not a.no_embed)
    if a.only:
        cfgs = {k: v for k, v in cfgs.items() if k in a.only}
    started = time.time()
    load_at_start = evaldata.load_average()
    with postgres(a.database_url) if a.database_url else nullcontext(None) as url:
        results, per_row = evaluate(rows, cfgs, embed=not a.no_embed, verbose=a.verbose, database_url=url)
    bm25 = {} if a.skip_bm25 else evaldata.run_bm25_baseline("swe")
    command = ".venv/bin/python benchmarks/swebench_eval.py " + " ".join(sys.argv[1:])
    table = render(results, per_row, bm25, command.strip(), load_at_start)
    print(table)
    print(f"({time.time() - started:.0f}s)", file=sys.stderr)
    if a.out:
        a.out.write_text(table, encoding="utf-8")
        a.out.with_suffix(".json").write_text(json.dumps({"bm25": bm25, "prism": results, "per_row": per_row},
                                                         indent=1))


if __name__ == "__main__":
    main()
