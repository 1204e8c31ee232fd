"""Multi-language dev sets: does `prism search` find the files and functions a fix touched?

Per language and overall, on /work/shared/eval/multiswe_dev.jsonl (Rust, Java, C++) or, with
`--jsonl`, another file of the same schema (benchmarks/devdata/more_langs_dev.jsonl: Go, C,
JavaScript, TypeScript). Query = `problem_statement`
only. Each row's project is indexed lexically (`embed=False`) at its base commit, once per
repo@commit, cached under the eval cache (evaldata.py). Gold files are the row's `gold_files`;
gold functions are PRISM's own chunks of those files at base that hold a line the patch changed
(`evaldata.changed_old_lines` + `evaldata.gold_chunks`). The shared BM25 tool reads only *.py,
so the BM25 reference here reuses its scorer and tokenizer on the same units PRISM indexed:
file documents = path + text of every indexed file, function documents = every chunk.

    .venv/bin/python benchmarks/multiswe_eval.py --out benchmarks/results/multiswe_dev.md
    .venv/bin/python benchmarks/multiswe_eval.py --per-language 5     # first 5 rows per language
    .venv/bin/python benchmarks/multiswe_eval.py --jsonl benchmarks/devdata/more_langs_dev.jsonl \
        --out benchmarks/results/more_langs_dev.md
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata
from swebench_eval import FILE_KS, FUNC_KS, configs

SYSTEMS = ("lexical only", "+ title boost (full without vectors)")
LANGUAGES = ("Rust", "Java", "C++")


def languages(rows: list[dict[str, Any]]) -> tuple[str, ...]:
    """The rows' languages, LANGUAGES first, others in order of first appearance."""
    seen = [lang for lang in LANGUAGES if any(r["language"] == lang for r in rows)]
    for r in rows:
        if r["language"] not in seen:
            seen.append(r["language"])
    return tuple(seen)


def bm25_tool() -> ModuleType:
    """The shared reference BM25 module (its scorer and tokenizer; its `swe` mode is *.py only)."""
    spec = importlib.util.spec_from_file_location("bm25_baseline", evaldata.BM25_TOOL)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def worst(ranks: dict[str, int], gold: list[str]) -> int | None:
    """The rank at which every gold item has been seen (None when one is missing)."""
    return max(ranks[g] for g in gold) if gold and all(g in ranks for g in gold) else None


def bm25_ranks(bm: ModuleType, prism: Any, root: Path, text: str, gold_files: list[str],
               gold_funcs: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """BM25 file and chunk ranks (top 100) over the files and chunks PRISM indexed."""
    store = prism.store
    query = bm.tokenize(text)
    paths = sorted(store.file_states())
    docs = []
    for p in paths:
        t = bm.tokenize(p + "\n" + (root / p).read_text(encoding="utf-8", errors="replace"))
        docs.append((collections.Counter(t), len(t)))
    order = [paths[i] for i in bm.BM25(docs).rank(query)][:100]
    chunks = [(c.chunk.path, c.chunk.qualified_name, c.chunk.content) for c in store.iter_chunks()]
    cdocs = []
    for _path, name, content in chunks:
        t = bm.tokenize(name + "\n" + content)
        cdocs.append((collections.Counter(t), len(t)))
    corder = [chunks[i][:2] for i in bm.BM25(cdocs).rank(query)][:100]
    return evaldata.file_ranks(order, gold_files), evaldata.function_ranks(corder, gold_funcs)


def gold_functions(prism: Any, row: dict[str, Any]) -> list[str]:
    """`path:Qualified.name` of the PRISM chunks of the gold files that hold a changed line."""
    changed = evaldata.changed_old_lines(row["patch"])
    out = []
    for path in row["gold_files"]:
        spans = [(c.chunk.qualified_name, c.chunk.start_line, c.chunk.end_line)
                 for c in prism.store.chunks_in_file(path)]
        out += [f"{path}:{name}" for name in evaldata.gold_chunks(changed.get(path, ()), spans)]
    return out


def evaluate(rows: list[dict[str, Any]], verbose: bool,
             done: Callable[[list[dict[str, Any]]], object],
             wrap: Callable[[Any, Path], Any] | None = None, reference: bool = True,
             jsonl: Path = evaldata.MULTISWE_JSONL) -> list[dict[str, Any]]:
    """One record per row: gold, and per system the worst file / function rank and Acc@k flags.

    `done` gets the records so far after every row, so a run stopped early still leaves results.
    `wrap(prism, checkout)` gives the Prism to search instead of the opened one (lexical_engine_ab.py);
    without `reference` the BM25 reference is not run; `jsonl` is the file the rows came from."""
    cfgs = {k: v for k, v in configs(dense=False).items() if k in SYSTEMS}
    bm = bm25_tool() if reference else None
    out = []
    for n, row in enumerate(rows):
        root = evaldata.checkout(row, jsonl)
        opened = evaldata.open_index(root, embed=False, progress=True)
        prism = wrap(opened, root) if wrap else opened
        text = row["problem_statement"]
        gold_files = list(row["gold_files"])
        gold_funcs = gold_functions(prism, row)
        rec: dict[str, Any] = {"instance_id": row["instance_id"], "language": row["language"],
                               "repo": row["repo"], "gold_files": gold_files, "gold_functions": gold_funcs,
                               "systems": {}}
        ranked: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        for name, cfg in cfgs.items():
            files = prism.search(text, limit=100, files=True, config=cfg)
            chunks = prism.search(text, limit=100, config=cfg)
            ranked[name] = (
                evaldata.file_ranks([h.chunk.chunk.path for h in files.hits], gold_files),
                evaldata.function_ranks([(h.chunk.chunk.path, h.chunk.chunk.qualified_name)
                                         for h in chunks.hits], gold_funcs))
        if bm is not None:
            ranked["BM25"] = bm25_ranks(bm, prism, root, text, gold_files, gold_funcs)
        for name, (franks, granks) in ranked.items():
            sysrec: dict[str, Any] = {"file_rank": worst(franks, gold_files),
                                      "func_rank": worst(granks, gold_funcs)}
            for k in FILE_KS:
                sysrec[f"file@{k}"] = evaldata.acc_at(franks, gold_files, k)
            for k in FUNC_KS:
                sysrec[f"func@{k}"] = evaldata.acc_at(granks, gold_funcs, k) if gold_funcs else None
            rec["systems"][name] = sysrec
        opened.close()
        out.append(rec)
        done(out)
        print(f"[{n + 1}/{len(rows)}] {row['instance_id']} "
              + " ".join(f"{k}={v['file_rank']}/{v['func_rank']}" for k, v in rec["systems"].items()),
              file=sys.stderr, flush=True)
        if verbose:
            print(f"  gold functions {gold_funcs}", file=sys.stderr, flush=True)
    return out


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Acc@k in percent per language (and 'all') per system; func@k over rows with gold functions."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for lang in (*languages(records), "all"):
        recs = [r for r in records if lang in ("all", r["language"])]
        if not recs:
            continue
        out[lang] = {}
        for name in recs[0]["systems"]:
            vals: dict[str, float] = {"rows": len(recs),
                                      "rows_with_functions": sum(bool(r["gold_functions"]) for r in recs)}
            for key in [f"file@{k}" for k in FILE_KS] + [f"func@{k}" for k in FUNC_KS]:
                flags = [r["systems"][name][key] for r in recs if r["systems"][name][key] is not None]
                vals[key] = round(100 * sum(flags) / len(flags), 1) if flags else float("nan")
            out[lang][name] = vals
    return out


def render(summary: dict[str, dict[str, dict[str, float]]], records: list[dict[str, Any]],
           skipped: list[str], meta: dict[str, str]) -> str:
    cols = [f"file@{k}" for k in FILE_KS] + [f"func@{k}" for k in FUNC_KS]
    lines = [
        f"# {meta['title']}: file and function localisation",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['machine']}; load average at start {meta['load_start']}, at end "
        f"{meta['load_end']} (shared box)",
        f"- command: `{meta['command']}` ({meta['seconds']} s, indexing included where not cached)",
        f"- rows: {meta['rows']}",
        f"- skipped (base commit not in the mirror): {', '.join(skipped) or 'none'}",
        "- query: `problem_statement` only; Acc@k = every gold item in the top k; PRISM indexed "
        "without vectors (lexical + exact + graph signals, no dense)",
        "- gold functions: PRISM's own chunks of the gold files at base_commit holding a changed "
        "old line (innermost chunk per line; a pure insertion counts as the line above it)",
        "- BM25: the shared tool's scorer and tokenizer (k1=1.2, b=0.75) over the same files and "
        "chunks PRISM indexed (the tool's own `swe` mode reads *.py only)",
        "",
        "| language | system | rows (with functions) | "
        + " | ".join(f"Acc@{c.split('@')[1]} {c.split('@')[0]}" for c in cols) + " |",
        "|---|---|---:|" + "---:|" * len(cols),
    ]
    for lang, systems in summary.items():
        for name, vals in systems.items():
            lines.append(f"| {lang} | {name} | {int(vals['rows'])} ({int(vals['rows_with_functions'])}) | "
                         + " | ".join(str(vals[c]) for c in cols) + " |")
    names = list(records[0]["systems"]) if records else []
    lines += ["", "Per row: rank of the last gold file / of the last gold function (– = not in the top 100).",
              "", "| row | language | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
    for r in records:
        cells = [f"{r['systems'][n]['file_rank'] or '–'}/{r['systems'][n]['func_rank'] or '–'}" for n in names]
        lines.append(f"| {r['instance_id']} | {r['language']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def round_robin(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows alternating languages (file order within a language): a partial run stays balanced."""
    langs = languages(rows)
    by = {lang: [r for r in rows if r["language"] == lang] for lang in langs}
    return [by[lang][i] for i in range(max(map(len, by.values()), default=0)) for lang in langs
            if i < len(by[lang])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jsonl", type=Path, default=evaldata.MULTISWE_JSONL,
                    help="rows to run (default: the shared Multi-SWE dev rows)")
    ap.add_argument("--per-language", type=int, help="only the first N rows of each language")
    ap.add_argument("--ids", nargs="*", help="only these instance ids")
    ap.add_argument("--out", type=Path, help="write the markdown table here (and the JSON beside it)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    rows, absent = evaldata.load_multiswe(a.jsonl)
    if a.ids:
        rows = [r for r in rows if r["instance_id"] in a.ids]
    if a.per_language:
        seen: collections.Counter[str] = collections.Counter()
        kept = []
        for r in rows:
            seen[r["language"]] += 1
            if seen[r["language"]] <= a.per_language:
                kept.append(r)
        rows = kept
    rows = round_robin(rows)
    started = time.time()
    load_start = evaldata.load_average()
    command = "PYTHONPATH=src .venv/bin/python benchmarks/multiswe_eval.py " + " ".join(sys.argv[1:])
    skipped = [r["instance_id"] for r in absent]

    def write(records: list[dict[str, Any]]) -> str:
        counts = collections.Counter(r["language"] for r in records)
        title = ("Multi-SWE dev (Rust, Java, C++)" if a.jsonl == evaldata.MULTISWE_JSONL
                 else f"{a.jsonl.name} ({', '.join(languages(rows))})")
        meta = {"title": title, "date": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
                "machine": evaldata.machine(),
                "load_start": load_start, "load_end": evaldata.load_average(), "command": command.strip(),
                "seconds": f"{time.time() - started:.0f}",
                "rows": ", ".join(f"{lang} {counts[lang]}" for lang in languages(rows))
                + f"; {len(records)} of the {len(rows)} selected"
                + (f" (first {a.per_language} per language of the file)" if a.per_language else "")}
        table = render(summarise(records), records, skipped, meta)
        if a.out:
            a.out.write_text(table, encoding="utf-8")
            a.out.with_suffix(".json").write_text(
                json.dumps({"meta": meta, "skipped": skipped, "summary": summarise(records), "rows": records},
                           indent=1), encoding="utf-8")
        return table

    records = evaluate(rows, a.verbose, write, jsonl=a.jsonl)
    print(write(records))
    print(f"({time.time() - started:.0f}s)", file=sys.stderr)

if __name__ == "__main__":
    main()
