"""SWE-bench Lite dev: does `prism search` find the files and functions an issue's fix touched?

Query = `problem_statement` only. For each rebuildable row the project is indexed at its
base commit (indexes cached under the eval cache, see evaldata.py), then every ablation
configuration ranks files (`files=True`) and chunks; the reference BM25 runs on the same rows
in the same invocation and is printed beside ours.

    .venv/bin/python benchmarks/swebench_eval.py                 # full (needs vectors: slow once)
    .venv/bin/python benchmarks/swebench_eval.py --no-embed      # lexical + exact only
    .venv/bin/python benchmarks/swebench_eval.py --out benchmarks/results/swebench_lite_dev.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata

from prism.retrieve.search import SearchConfig

FILE_KS = (1, 3, 5, 10)
FUNC_KS = (5, 10)


def configs(dense: bool) -> dict[str, SearchConfig]:
    base = SearchConfig()
    out = {"lexical only": replace(base, dense=False, exact=False, features=False)}
    if dense:
        out["dense only"] = replace(base, lexical=False, exact=False, features=False)
        out["hybrid (lexical+dense)"] = replace(base, exact=False, features=False)
        out["+ exact signals"] = replace(base, features=False)
        out["+ graph/features (full)"] = base
    else:
        out["lexical + exact"] = replace(base, dense=False, features=False)
        out["lexical + exact + features"] = replace(base, dense=False)
    return out


def evaluate(rows: list[dict[str, Any]], cfgs: dict[str, SearchConfig], embed: bool,
             verbose: bool) -> dict[str, dict[str, float]]:
    sums: dict[str, dict[str, float]] = {name: {} for name in cfgs}
    counts = {"files": 0, "functions": 0}
    for row in rows:
        root = evaldata.checkout(row)
        prism = evaldata.open_index(root, embed=embed, progress=True)
        text = row["problem_statement"]
        gold_files = list(row["gold_files"])
        gold_funcs = list(row["gold_functions"])
        counts["files"] += 1
        counts["functions"] += bool(gold_funcs)
        for name, cfg in cfgs.items():
            files = prism.search(text, limit=100, files=True, config=cfg)
            chunks = prism.search(text, limit=100, config=cfg)
            franks = evaldata.file_ranks([h.chunk.chunk.path for h in files.hits], gold_files)
            granks = evaldata.function_ranks(
                [(h.chunk.chunk.path, h.chunk.chunk.qualified_name) for h in chunks.hits], gold_funcs)
            s = sums[name]
            for k in FILE_KS:
                s[f"file@{k}"] = s.get(f"file@{k}", 0) + evaldata.acc_at(franks, gold_files, k)
            for k in FUNC_KS:
                if gold_funcs:
                    s[f"func@{k}"] = s.get(f"func@{k}", 0) + evaldata.acc_at(granks, gold_funcs, k)
            if verbose:
                print(f"{row['instance_id']:38s} {name:26s} file ranks {franks} func ranks {granks}",
                      file=sys.stderr, flush=True)
        prism.close()
    out: dict[str, dict[str, float]] = {}
    for name, s in sums.items():
        out[name] = {k: round(100 * v / counts["functions" if k.startswith("func") else "files"], 1)
                     for k, v in s.items()}
    out["_counts"] = {k: float(v) for k, v in counts.items()}
    return out


def render(results: dict[str, dict[str, float]], bm25: dict[str, Any], command: str) -> str:
    counts = results.pop("_counts")
    cols = [f"file@{k}" for k in FILE_KS] + [f"func@{k}" for k in FUNC_KS]
    lines = [
        "# SWE-bench Lite dev: file and function localisation",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- machine: {evaldata.machine()}",
        f"- command: `{command}`",
        f"- rows: {int(counts['files'])} (file level), {int(counts['functions'])} with gold functions",
        "- query: `problem_statement` only; Acc@k = every gold item in the top k",
        "",
        "| configuration | " + " | ".join(f"Acc@{c.split('@')[1]} {c.split('@')[0]}" for c in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    ref = [bm25.get(f"file_acc@{k}", "") for k in FILE_KS] + [bm25.get(f"func_acc@{k}", "") for k in FUNC_KS]
    lines.append("| reference BM25 (shared tool, same rows) | " + " | ".join(str(v) for v in ref) + " |")
    for name, vals in results.items():
        lines.append(f"| {name} | " + " | ".join(str(vals.get(c, "")) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-embed", action="store_true", help="lexical and exact signals only")
    ap.add_argument("--ids", nargs="*", help="only these instance ids")
    ap.add_argument("--only", nargs="*", help="only these configuration names")
    ap.add_argument("--out", type=Path, help="write the markdown table here")
    ap.add_argument("--skip-bm25", action="store_true", help="do not rerun the reference BM25")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    rows = evaldata.load_swebench()
    if a.ids:
        rows = [r for r in rows if r["instance_id"] in a.ids]
    cfgs = configs(dense=not a.no_embed)
    if a.only:
        cfgs = {k: v for k, v in cfgs.items() if k in a.only}
    started = time.time()
    results = evaluate(rows, cfgs, embed=not a.no_embed, verbose=a.verbose)
    bm25 = {} if a.skip_bm25 else evaldata.run_bm25_baseline("swe")
    command = "python benchmarks/swebench_eval.py " + " ".join(sys.argv[1:])
    table = render(results, bm25, command.strip())
    print(table)
    print(f"({time.time() - started:.0f}s)", file=sys.stderr)
    if a.out:
        a.out.write_text(table, encoding="utf-8")
        a.out.with_suffix(".json").write_text(json.dumps({"bm25": bm25, "prism": results}, indent=1))


if __name__ == "__main__":
    main()
