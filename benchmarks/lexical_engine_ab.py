"""Lexical engine A/B: SQLite FTS5 (PRISM today) against tantivy over the same chunk terms.

Both engines index the `chunks_fts` rows of a PRISM index (the identifier-split terms of
`index/terms.chunk_terms`) and answer the weighted terms `retrieve/lexical.build_query` makes,
with the same k, the same OR semantics and the same rare-term gate (`require`); see
`tantivy_lexical.py` for how tantivy's BM25 is set up to match FTS5's bm25().

1. Scale (the ≥100k-chunk index of `bigindex.py`, copied first: the original is only read):
   build CPU/wall and size of each engine from the same rows; per-query CPU and wall of the
   engine call alone, interleaved, for short questions (CoSQA dev, k 200) and long issue texts
   (SWE-bench Lite dev + Multi-SWE dev problem statements, k 800: the long-query lexical pool);
   agreement of each engine's top hits with FTS5's exact plain OR.
2. Quality: SWE-bench Lite dev file Acc@k and CoSQA dev MRR with each engine producing the
   lexical candidates (lexical-only, and the full configuration without vectors); with
   `--extra` also Multi-SWE dev per language and CoSQA with vectors (an eval cache with vectors).

tantivy is not a PRISM dependency; install the `bench` extra into a separate environment:

    python3 -m venv /tmp/venv-bench && /tmp/venv-bench/bin/pip install -e '.[bench]'
    PRISM_EVAL_CACHE=/tmp/cache PRISM_EVAL_MIRRORS=/work/.mirror flock /tmp/prism-bench.lock \\
        nice /tmp/venv-bench/bin/python benchmarks/lexical_engine_ab.py \\
        --big ~/.cache/prism-bench/home/projects/monorepo-*/index.db --work /tmp/lexab \\
        --out benchmarks/results/lexical_engine.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cosqa_eval
import evaldata
import multiswe_eval
import swebench_eval
from tantivy_lexical import LAYOUTS, TantivyLexical, TantivyStore, TermRow, read_term_rows

from prism.config import Settings
from prism.engine import Prism
from prism.index.sqlite import SqliteStore
from prism.index.sqlite_db import split_statements
from prism.retrieve.lexical import LexicalQuery, build_query
from prism.retrieve.query import parse_query
from prism.retrieve.search import SearchConfig

SCHEMA = Path(__file__).resolve().parents[1] / "src" / "prism" / "index" / "schema" / "001_initial.sql"
FTS_BATCH = 1000  # rows per write transaction when rebuilding FTS5 (an indexer batch)
SHORT_K = SearchConfig().candidates
LONG_K = SearchConfig().candidates * SearchConfig().lexical_pool
REPEATS = 3  # timed calls per query and engine (the median is kept)
T = TypeVar("T")
Search = Callable[[LexicalQuery, int], list[tuple[int, float]]]


def fts_ddl() -> str:
    """PRISM's CREATE VIRTUAL TABLE chunks_fts statement, read from the schema migration."""
    for statement in split_statements(SCHEMA.read_text(encoding="utf-8")):
        if "VIRTUAL TABLE chunks_fts" in statement:
            return statement
    raise RuntimeError(f"no chunks_fts table in {SCHEMA}")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(fn: Callable[[], T]) -> tuple[T, float, float]:
    """fn's result, process CPU s and wall s of one call (process CPU counts tantivy's threads too)."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def build_fts5(rows: Sequence[TermRow], db: Path) -> None:
    """The rows into a fresh database holding PRISM's FTS5 table, one transaction per batch."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(fts_ddl())
        for start in range(0, len(rows), FTS_BATCH):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO chunks_fts(rowid, path, symbol, doc, body) VALUES (?, ?, ?, ?, ?)",
                rows[start : start + FTS_BATCH],
            )
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def fts5_sizes(db: Path) -> dict[str, int]:
    """Bytes of the FTS5 table's shadow tables in a PRISM index (content = the stored terms)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'chunks_fts%' GROUP BY name")
        return {str(name).removeprefix("chunks_fts_"): int(size) for name, size in rows}
    finally:
        conn.close()


def incremental_ms(engine: TantivyLexical, fts_db: Path, rows: Sequence[TermRow], n: int = 5) -> dict[str, float]:
    """Median ms to replace one chunk's terms and make it visible (watch mode's unit of work)."""
    fts, tan = [], []
    conn = sqlite3.connect(fts_db, isolation_level=None)
    try:
        for row in rows[:n]:

            def fts_write(row: TermRow = row) -> None:
                conn.execute("BEGIN")
                conn.execute("DELETE FROM chunks_fts WHERE rowid=?", (row[0],))
                conn.execute("INSERT INTO chunks_fts(rowid, path, symbol, doc, body) VALUES (?, ?, ?, ?, ?)", row)
                conn.execute("COMMIT")

            fts.append(measure(fts_write)[2] * 1000)
            tan.append(measure(partial(engine.write, [row]))[2] * 1000)
    finally:
        conn.close()
        engine.close()
    assert engine.num_docs() == len(rows)
    return {"fts5": statistics.median(fts), "tantivy": statistics.median(tan)}


def import_ms(module: str, n: int = 5) -> float:
    """Median wall ms a fresh interpreter spends importing `module`, beyond starting up (CLI start-up cost)."""

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    return 1000 * (
        statistics.median(run(f"import {module}") for _ in range(n)) - statistics.median(run("pass") for _ in range(n))
    )


def overlap(got: list[int], want: list[int]) -> float:
    return len(set(got) & set(want)) / len(want) if want else 1.0


def time_queries(queries: list[LexicalQuery], k: int, engines: dict[str, Search]) -> dict[str, dict[str, float]]:
    """Per engine: p50/p95 CPU and wall ms of the engine call, and top-10 / top-k overlap with
    the reference (the first engine). Engines run interleaved, in a rotating order."""
    names = list(engines)
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    top10: dict[str, list[float]] = {n: [] for n in names}
    topk: dict[str, list[float]] = {n: [] for n in names}
    for i, q in enumerate(queries):
        order = names[i % len(names) :] + names[: i % len(names)]
        hits: dict[str, list[int]] = {}
        samples: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
        for _ in range(REPEATS):
            for name in order:
                result, c, w = measure(partial(engines[name], q, k))
                samples[name].append((c, w))
                hits[name] = [cid for cid, _ in result]
        reference = hits[names[0]]
        for name in names:
            cpu[name].append(statistics.median(c for c, _ in samples[name]) * 1000)
            wall[name].append(statistics.median(w for _, w in samples[name]) * 1000)
            top10[name].append(overlap(hits[name][:10], reference[:10]))
            topk[name].append(overlap(hits[name], reference))
    return {
        name: {
            "cpu_p50": evaldata.percentile(cpu[name], 0.5),
            "cpu_p95": evaldata.percentile(cpu[name], 0.95),
            "wall_p50": evaldata.percentile(wall[name], 0.5),
            "wall_p95": evaldata.percentile(wall[name], 0.95),
            "cpu_mean": statistics.fmean(cpu[name]),
            "top10": 100 * statistics.fmean(top10[name]),
            "topk": 100 * statistics.fmean(topk[name]),
        }
        for name in names
    }


def scale_part(big: Path, work: Path, short_n: int) -> dict[str, Any]:
    """Build and query both engines on a copy of the big index."""
    copy = work / "big" / "index.db"
    if not copy.is_file():
        copy.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{big}?mode=ro", uri=True)
        dst = sqlite3.connect(copy)
        src.backup(dst)
        dst.close()
        src.close()
    rows = list(read_term_rows(copy))
    builds: dict[str, dict[str, float]] = {}
    fts_db = work / "fts5_build.db"
    _, c, w = measure(lambda: build_fts5(rows, fts_db))
    builds["fts5"] = {"cpu": c, "wall": w, "bytes": fts_db.stat().st_size}
    engines_t: dict[str, TantivyLexical] = {}
    for layout in LAYOUTS:
        folder = work / f"tantivy-big-{layout}"
        engines_t[layout], c, w = measure(partial(TantivyLexical.build, rows, folder, layout))
        builds[f"tantivy {layout}"] = {
            "cpu": c,
            "wall": w,
            "bytes": folder_bytes(folder),
            "segments": engines_t[layout].num_segments(),
        }
    assert all(e.num_docs() == len(rows) for e in engines_t.values())
    store = SqliteStore(copy)
    pooled, fields = engines_t["pooled"], engines_t["fields"]
    engines: dict[str, Search] = {
        "fts5 OR (exact)": lambda q, k: store.lexical(q.weighted, k),
        "fts5 gated (PRISM today)": lambda q, k: store.lexical(q.weighted, k, require=q.require),
        # fewer OR phrases: each term listed once (FTS5 has no per-phrase weight), so not the same ranking
        "fts5 gated, each term once": lambda q, k: store.lexical([(t, 1) for t, _ in q.weighted], k, require=q.require),
        "tantivy pooled OR": lambda q, k: pooled.lexical(q.weighted, k),
        "tantivy pooled gated": lambda q, k: pooled.lexical(q.weighted, k, require=q.require),
        "tantivy fields OR": lambda q, k: fields.lexical(q.weighted, k),
    }
    _, cosqa = evaldata.load_cosqa("dev")
    present, _ = evaldata.load_multiswe()
    long_texts = [r["problem_statement"] for r in evaldata.load_swebench()] + [r["problem_statement"] for r in present]
    sets = {
        f"short: CoSQA dev questions, k {SHORT_K}": ([r["query"] for r in cosqa[:short_n]], SHORT_K),
        f"long: SWE-bench Lite + Multi-SWE dev issue texts, k {LONG_K}": (long_texts, LONG_K),
    }
    latency: dict[str, Any] = {}
    for label, (texts, k) in sets.items():
        queries = [q for t in texts if (q := build_query(parse_query(t), store, limit=k)) is not None]
        for q in queries[:20]:  # warm both engines' caches (and the IDF cache) before timing
            for fn in engines.values():
                fn(q, k)
        latency[label] = {
            "n": len(queries),
            "gated": sum(bool(q.require) for q in queries),
            "terms": statistics.fmean(sum(n for _, n in q.weighted) for q in queries),
            "engines": time_queries(queries, k, engines),
        }
        print(label, json.dumps(latency[label], indent=1), file=sys.stderr, flush=True)
    searches = search_times(copy, work, store, pooled, {label: texts for label, (texts, _) in sets.items()})
    incremental = incremental_ms(pooled, fts_db, rows)
    store.close()
    return {
        "chunks": len(rows),
        "builds": builds,
        "fts5_shadow": fts5_sizes(copy),
        "latency": latency,
        "incremental": incremental,
        "search": searches,
        "import_ms": import_ms("tantivy"),
    }


def search_times(
    db: Path, work: Path, store: SqliteStore, engine: TantivyLexical, sets: dict[str, list[str]], n: int = 200
) -> dict[str, dict[str, dict[str, float]]]:
    """Whole warm searches (`Prism.search(q, limit=10)`, no vectors: lexical + exact + features,
    no result cache) with FTS5 and with tantivy as the lexical stage, interleaved: p50/p95
    CPU ms of the first `n` queries of each set, and how many top-10 lists are the same."""
    cfg = replace(SearchConfig(), dense=False)
    # A home of its own (nothing written to the user's), no result cache: every search does the work.
    settings = Settings(home=work / "home", cache_ttl_s=0)
    prisms = {
        "fts5 gated (PRISM today)": Prism(db.parent, settings=settings, index_dir=db.parent, store=store),
        "tantivy pooled": Prism(db.parent, settings=settings, index_dir=db.parent, store=TantivyStore(store, engine)),
    }
    out: dict[str, dict[str, dict[str, float]]] = {}
    for label, texts in sets.items():
        cpu: dict[str, list[float]] = {name: [] for name in prisms}
        same = 0
        shared: list[float] = []
        for i, text in enumerate(texts[:n]):
            tops: dict[str, list[int]] = {}
            samples: dict[str, list[float]] = {name: [] for name in prisms}
            for rep in range(2):
                for name, prism in list(prisms.items()) if (i + rep) % 2 == 0 else list(prisms.items())[::-1]:
                    result, c, _ = measure(partial(prism.search, text, limit=10, config=cfg))
                    samples[name].append(c * 1000)
                    tops[name] = [h.chunk.id for h in result.hits]
            for name in prisms:
                cpu[name].append(statistics.median(samples[name]))
            first, *others = tops.values()
            same += all(t == first for t in others)
            shared.extend(overlap(t, first) for t in others)
        out[label] = {
            name: {
                "n": len(v),
                "cpu_p50": evaldata.percentile(v, 0.5),
                "cpu_p95": evaldata.percentile(v, 0.95),
                "same_top10": same,
                "top10_overlap": 100 * statistics.fmean(shared),
            }
            for name, v in cpu.items()
        }
        print(label, json.dumps(out[label]), file=sys.stderr, flush=True)
    return out


class Swapper:
    """Wraps an opened eval Prism into one whose lexical stage is a tantivy index of its terms."""

    def __init__(self, work: Path, layout: str) -> None:
        self.work = work
        self.layout = layout

    def __call__(self, prism: Any, root: Path) -> Any:
        db = Path(prism.store.path)
        engine = TantivyLexical.build(read_term_rows(db), self.work / f"tantivy-{root.name}-{self.layout}", self.layout)
        store: Any = TantivyStore(prism.store, engine)  # a Store by delegation
        return Prism(root, settings=evaldata.eval_settings(), index_dir=db.parent, store=store)


def quality_part(work: Path) -> dict[str, Any]:
    """SWE-bench Lite dev file Acc@k and CoSQA dev MRR with each engine's lexical candidates."""
    swe_cfgs = swebench_eval.configs(dense=False)
    swe_cfgs = {k: v for k, v in swe_cfgs.items() if k in ("lexical only", "+ title boost (full without vectors)")}
    base = SearchConfig()
    cosqa_cfgs = {
        "lexical only": replace(base, dense=False, exact=False, features=False),
        "full without vectors": replace(base, dense=False),
    }
    rows = evaldata.load_swebench()
    _, queries = evaldata.load_cosqa()
    cosqa_root = cosqa_eval.materialise()
    wraps: dict[str, Swapper | None] = {"fts5": None, **{f"tantivy {lay}": Swapper(work, lay) for lay in LAYOUTS}}
    out: dict[str, Any] = {"swe": {}, "cosqa": {}}
    for engine, wrap in wraps.items():
        results, _ = swebench_eval.evaluate(rows, swe_cfgs, embed=False, verbose=False, wrap=wrap)
        out["swe"][engine] = {k: v for k, v in results.items() if not k.startswith("_")}
        opened = evaldata.open_index(cosqa_root, embed=False)
        prism = wrap(opened, cosqa_root) if wrap else opened
        out["cosqa"][engine] = {name: cosqa_eval.score(prism, queries, cfg) for name, cfg in cosqa_cfgs.items()}
        opened.close()
        print(
            engine, json.dumps({"swe": out["swe"][engine], "cosqa": out["cosqa"][engine]}), file=sys.stderr, flush=True
        )
    out["swe_rows"] = len(rows)
    return out


def extra_quality_part(work: Path) -> dict[str, Any]:
    """Multi-SWE dev file/function Acc@k per language (no vectors) and CoSQA dev MRR with vectors
    (the default configuration), FTS5 and tantivy pooled; needs an eval cache holding vectors."""
    rows, _ = evaldata.load_multiswe()
    _, queries = evaldata.load_cosqa()
    cosqa_root = cosqa_eval.materialise()
    wraps: dict[str, Swapper | None] = {"fts5": None, "tantivy pooled": Swapper(work, "pooled")}
    out: dict[str, Any] = {"mswe": {}, "cosqa_vectors": {}}
    for engine, wrap in wraps.items():
        records = multiswe_eval.evaluate(rows, False, lambda _: None, wrap=wrap, reference=False)
        out["mswe"][engine] = multiswe_eval.summarise(records)
        opened = evaldata.open_index(cosqa_root, embed=True)
        prism = wrap(opened, cosqa_root) if wrap else opened
        out["cosqa_vectors"][engine] = cosqa_eval.score(prism, queries, SearchConfig())
        opened.close()
        print(engine, json.dumps(out["cosqa_vectors"][engine]), file=sys.stderr, flush=True)
    return out


def render(run: dict[str, Any]) -> str:
    """The markdown section of a run (the JSON `main` saves)."""
    scale, quality = run["scale"], run["quality"]
    mib = 1024 * 1024
    lines = [
        f"## Run {run['at']}",
        "",
        f"- machine: {run['machine']}; load average at start {run['load']}, at end {run['load_end']}",
        f"- command: `{run['command']}`",
        "",
    ]
    if scale:
        lines += [
            f"### Scale: {scale['chunks']:,} chunks (the `bigindex.py` index, a copy)",
            "",
            "| engine | build CPU s | build wall s | size MiB | segments |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, b in scale["builds"].items():
            lines.append(
                f"| {name} | {b['cpu']:.1f} | {b['wall']:.1f} | {b['bytes'] / mib:.1f} | {b.get('segments', '')} |"
            )
        shadow = scale["fts5_shadow"]
        lines += [
            "",
            "FTS5 in the PRISM index itself: "
            + ", ".join(f"{k} {v / mib:.1f} MiB" for k, v in sorted(shadow.items()))
            + ".",
            "",
        ]
        for label, part in scale["latency"].items():
            lines += [
                f"#### {label} ({part['n']} queries, {part['gated']} gated, "
                f"{part['terms']:.1f} weighted terms on average)",
                "",
                "| engine | CPU p50 ms | CPU p95 ms | CPU mean ms | wall p50 ms | wall p95 ms "
                "| top-10 = FTS5 OR | top-k = FTS5 OR |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for name, r in part["engines"].items():
                lines.append(
                    f"| {name} | {r['cpu_p50']:.2f} | {r['cpu_p95']:.2f} | {r['cpu_mean']:.2f} | "
                    f"{r['wall_p50']:.2f} | {r['wall_p95']:.2f} | {r['top10']:.1f} % | {r['topk']:.1f} % |"
                )
            lines.append("")
        lines += [
            "Whole warm search, `Prism.search(q, limit=10)` without vectors (lexical + exact + features), "
            "no result cache, interleaved:",
            "",
            "| queries | lexical stage | n | CPU p50 ms | CPU p95 ms | top 10 as FTS5's (same list / mean overlap) |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for label, engines in scale["search"].items():
            for i, (name, r) in enumerate(engines.items()):
                agree = f"{r['same_top10']} of {r['n']} / {r['top10_overlap']:.1f} %" if i else "(reference)"
                lines.append(
                    f"| {label.split(':')[0]} | {name} | {r['n']} | {r['cpu_p50']:.1f} | {r['cpu_p95']:.1f} | {agree} |"
                )
        lines.append("")
        lines += [f"`import tantivy` in a fresh interpreter: {scale['import_ms']:.0f} ms wall (median of 5).", ""]
        inc = scale["incremental"]
        lines += [
            f"One chunk replaced and made visible (median of 5): FTS5 {inc['fts5']:.1f} ms "
            f"(one transaction), tantivy {inc['tantivy']:.1f} ms (commit + reload).",
            "",
        ]
    if quality:
        lines += [
            f"### Quality: SWE-bench Lite dev ({quality['swe_rows']} rows) file Acc@k, CoSQA dev MRR",
            "",
            "| engine | configuration | file Acc@1 | @3 | @5 | @10 | func Acc@5 | @10 |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for engine, cfgs in quality["swe"].items():
            for name, r in cfgs.items():
                lines.append(
                    f"| {engine} | {name} | {r['file@1']} | {r['file@3']} | {r['file@5']} | "
                    f"{r['file@10']} | {r.get('func@5', '')} | {r.get('func@10', '')} |"
                )
        lines += [
            "",
            "| engine | CoSQA configuration | MRR | R@1 | R@5 | R@10 |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for engine, cfgs in quality["cosqa"].items():
            for name, r in cfgs.items():
                lines.append(f"| {engine} | {name} | {r[0]} | {r[1]} | {r[2]} | {r[3]} |")
        lines.append("")
    extra = run.get("extra")
    if extra:
        lines += [
            "### Quality: Multi-SWE dev without vectors (Acc@k per language), CoSQA dev with vectors",
            "",
            "| engine | configuration | language | rows | file Acc@1 | @3 | @5 | @10 | func Acc@5 | @10 |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for engine, langs in extra["mswe"].items():
            for lang, systems in langs.items():
                for name, r in systems.items():
                    lines.append(
                        f"| {engine} | {name} | {lang} | {r['rows']:.0f} | {r['file@1']} | {r['file@3']} | "
                        f"{r['file@5']} | {r['file@10']} | {r['func@5']} | {r['func@10']} |"
                    )
        lines += [
            "",
            "| engine | CoSQA, default configuration with vectors | MRR | R@1 | R@5 | R@10 |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for engine, r in extra["cosqa_vectors"].items():
            lines.append(f"| {engine} | full (default) | {r[0]} | {r[1]} | {r[2]} | {r[3]} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", type=Path, help="the big index's index.db (read only; copied into --work)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/lexab"), help="scratch folder for the built indexes")
    ap.add_argument("--short", type=int, default=500, help="CoSQA dev questions to time")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--extra", action="store_true", help="also Multi-SWE dev and CoSQA with vectors (slower)")
    ap.add_argument("--out", type=Path, help="append the run's markdown section here")
    ap.add_argument("--render", type=Path, help="only render a saved run's JSON (written into --work by a run)")
    a = ap.parse_args()
    if a.render:
        print(render(json.loads(a.render.read_text())))
        return
    a.work.mkdir(parents=True, exist_ok=True)
    load = evaldata.load_average()
    scale = None if a.skip_scale or a.big is None else scale_part(a.big, a.work, a.short)
    quality = None if a.skip_quality else quality_part(a.work)
    extra = extra_quality_part(a.work) if a.extra else None
    run = {
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": evaldata.machine(),
        "load": load,
        "load_end": evaldata.load_average(),
        "command": f"{Path(sys.executable).name} benchmarks/lexical_engine_ab.py " + " ".join(sys.argv[1:]),
        "scale": scale,
        "quality": quality,
        "extra": extra,
    }
    text = render(run)
    print(text)
    (a.work / f"lexical_engine_{os.getpid()}.json").write_text(json.dumps(run, indent=1))
    if a.out:
        with a.out.open("a", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
