"""Fit the bug-fix packing profile (pack/intent.py) on the dev issues, cross-validated by repository.

Every dev issue that reads as a bug fix (SWE-bench Lite dev, Python; Multi-SWE dev, Rust/Java/C++)
is searched once (lexical index, hand-set fusion, as `prism context` without vectors), then
packed at 2k/4k/8k tokens under each setting of the grid below (the profile's rank fall-off and
the skeleton utility: depth against breadth). A row scores the share of its gold functions that
arrive in full (or light), averaged over the budgets. Leave-one-repository-out: each repository's
rows are packed with the setting that scored best on the other repositories (ties go to today's
setting); the report gives those held-out numbers beside today's profile, SWE-bench rows by the
headline measure (every gold function in full at 8k).

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/fit_intent.py \\
        --out benchmarks/results/intent_cv.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata
from context_recall import gold_function_in_full
from fit_fusion import searcher_of
from multiswe_eval import gold_functions, round_robin

from prism.pack import intent as intents
from prism.pack.packer import build_pack
from prism.retrieve.search import SearchConfig

BUDGETS = (2000, 4000, 8000)
RANK_EXPONENTS = (0.5, 0.8, 1.1)
SKELETON_UTILITIES = (0.2, 0.3, 0.45)
MAX_GOLD = 3  # rows whose fix touches more functions cannot be packed in full at these budgets
Setting = tuple[float, float]


def today() -> Setting:
    p = intents.PROFILES["bugfix"]
    return (p.rank_exponent, p.skeleton_utility)


def pack_row(prism: Any, text: str, gold: list[str], grid: list[Setting]) -> dict[Setting, dict[int, float]]:
    """Per setting and budget, the share of `gold` packed in full (or light)."""
    base = intents.PROFILES["bugfix"]
    hits = prism.search(text, limit=min(base.candidates, 100)).hits
    out: dict[Setting, dict[int, float]] = {}
    try:
        for setting in grid:
            intents.PROFILES["bugfix"] = replace(base, rank_exponent=setting[0], skeleton_utility=setting[1])
            out[setting] = {}
            for budget in BUDGETS:
                pack = build_pack(text, hits, budget_tokens=budget, tokenizer=prism.tokenizer,
                                  intent="bugfix", graph=prism.store)
                chunks = [c.to_dict() for c in pack.chunks]
                out[setting][budget] = sum(gold_function_in_full(chunks, g) for g in gold) / len(gold)
    finally:
        intents.PROFILES["bugfix"] = base
    return out


def collect(grid: list[Setting]) -> list[dict[str, Any]]:
    cfg = replace(SearchConfig(), dense=False)
    jobs = [(r, evaldata.SWE_JSONL, "swe") for r in evaldata.load_swebench()]
    jobs += [(r, evaldata.MULTISWE_JSONL, "multiswe") for r in round_robin(evaldata.load_multiswe()[0])]
    rows = []
    for n, (row, jsonl, dataset) in enumerate(jobs):
        text = row["problem_statement"]
        if intents.detect_intent(text) != "bugfix":
            continue
        root = evaldata.checkout(row, jsonl)
        prism = evaldata.open_index(root, embed=False)
        gold = list(row["gold_functions"]) if dataset == "swe" else gold_functions(prism, row)
        if gold and len(gold) <= MAX_GOLD:
            searcher_of(prism).config = cfg
            shares = pack_row(prism, text, gold, grid)
            rows.append({"instance_id": row["instance_id"], "repo": row["repo"], "set": dataset,
                         "language": row.get("language", "Python"), "shares": shares})
            print(f"[{n + 1}/{len(jobs)}] {row['instance_id']} today {shares[today()]}",
                  file=sys.stderr, flush=True)
        prism.close()
    return rows


def objective(rows: list[dict[str, Any]], setting: Setting) -> float:
    return sum(sum(r["shares"][setting].values()) / len(BUDGETS) for r in rows) / max(len(rows), 1)


def best_setting(rows: list[dict[str, Any]], grid: list[Setting]) -> Setting:
    base = today()
    return max(grid, key=lambda s: (round(objective(rows, s), 9), s == base))


def cross_validate(rows: list[dict[str, Any]], grid: list[Setting]) -> dict[str, Setting]:
    """Instance id → the setting chosen without its repository."""
    chosen: dict[str, Setting] = {}
    for repo in sorted({r["repo"] for r in rows}):
        pick = best_setting([r for r in rows if r["repo"] != repo], grid)
        chosen.update({r["instance_id"]: pick for r in rows if r["repo"] == repo})
    return chosen


def rates(rows: list[dict[str, Any]], pick: dict[str, Setting], full: bool) -> dict[int, float]:
    """Per budget: % of rows with every gold function in full (full) or the mean share."""
    out = {}
    for budget in BUDGETS:
        vals = [r["shares"][pick[r["instance_id"]]][budget] for r in rows]
        vals = [float(v == 1.0) for v in vals] if full else vals
        out[budget] = round(100 * sum(vals) / max(len(vals), 1), 1)
    return out


def render(rows: list[dict[str, Any]], grid: list[Setting], cv: dict[str, Setting], meta: dict[str, str]) -> str:
    base = today()
    fitted = best_setting(rows, grid)
    todays = {r["instance_id"]: base for r in rows}
    everywhere = {r["instance_id"]: fitted for r in rows}
    lines = [
        "# Bug-fix packing profile: leave-one-repository-out cross-validation",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['machine']}; load average at start {meta['load_start']}, at end {meta['load_end']}",
        f"- command: `{meta['command']}` ({meta['seconds']} s)",
        f"- rows: dev issues detected as bug fixes with 1–{MAX_GOLD} gold functions: "
        f"{sum(r['set'] == 'swe' for r in rows)} SWE-bench Lite dev, "
        f"{sum(r['set'] == 'multiswe' for r in rows)} Multi-SWE dev; lexical index, hand-set fusion",
        f"- grid: rank_exponent × skeleton_utility of the bugfix profile, {len(grid)} settings; "
        f"today {base}; fitted on all rows {fitted}",
        "- objective: share of gold functions in full (or light), mean over 2k/4k/8k budgets",
        "",
        "| rows | profile | gold function in full 2k / 4k / 8k (% rows, every gold) | mean share 2k / 4k / 8k |",
        "|---|---|---|---|",
    ]
    for name, subset in (("SWE-bench Lite dev", [r for r in rows if r["set"] == "swe"]),
                         ("Multi-SWE dev", [r for r in rows if r["set"] == "multiswe"]), ("all", rows)):
        for label, pick in (("today", todays), ("CV (held-out repository)", cv), ("fitted on all", everywhere)):
            a, b = rates(subset, pick, True), rates(subset, pick, False)
            lines.append(f"| {name} ({len(subset)}) | {label} | " + " / ".join(str(a[k]) for k in BUDGETS)
                         + " | " + " / ".join(str(b[k]) for k in BUDGETS) + " |")
    lines += ["", "Objective of each setting on all rows:", "", "| rank_exponent | skeleton_utility | objective |",
              "|---:|---:|---:|"]
    lines += [f"| {s[0]} | {s[1]} | {objective(rows, s):.4f} |" for s in grid]
    lines += ["", "Per row: share of gold functions in full at 2k/4k/8k, today → CV setting.", "",
              "| row | set | CV setting | today | CV |", "|---|---|---|---|---|"]
    for r in rows:
        pick = cv[r["instance_id"]]
        lines.append(f"| {r['instance_id']} | {r['set']} | {pick} | "
                     + "/".join(f"{r['shares'][base][k]:.2f}" for k in BUDGETS) + " | "
                     + "/".join(f"{r['shares'][pick][k]:.2f}" for k in BUDGETS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="write the markdown report here (and the JSON beside it)")
    a = ap.parse_args()
    started, load_start = time.time(), evaldata.load_average()
    grid = list(itertools.product(RANK_EXPONENTS, SKELETON_UTILITIES))
    if today() not in grid:
        grid.append(today())
    rows = collect(grid)
    cv = cross_validate(rows, grid)
    meta = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"), "machine": evaldata.machine(),
            "load_start": load_start, "load_end": evaldata.load_average(),
            "command": "PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/fit_intent.py " + " ".join(sys.argv[1:]),
            "seconds": f"{time.time() - started:.0f}"}
    table = render(rows, grid, cv, meta)
    print(table)
    if a.out:
        a.out.write_text(table, encoding="utf-8")
        a.out.with_suffix(".json").write_text(json.dumps(
            {"meta": meta, "rows": [{**r, "shares": {f"{s[0]},{s[1]}": v for s, v in r["shares"].items()},
                                     "cv_setting": list(cv[r["instance_id"]])} for r in rows]}, indent=1))


if __name__ == "__main__":
    main()
