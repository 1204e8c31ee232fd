"""Vector search on PostgreSQL + pgvector HNSW beside the embedded store, at the same size.

Synthetic data: N chunks (10 per file) with random unit vectors of `--dim` dimensions; the same
rows go into a SqliteStore (through write_files / put_embeddings) and a PostgresStore (bulk
COPY, then the HNSW index built once over the loaded rows — what a migration of a big index
does). Each store answers the same `--queries` random unit queries with `nearest(limit=10)`;
reported: p50/p95 latency per store, and HNSW recall@10 against the exact top 10 (numpy over
the same matrix). Without --url a throwaway pgserver (PostgreSQL 16.2 + pgvector 0.6.2) is
started in a temporary folder.

    .venv/bin/python benchmarks/pg_search.py --chunks 100000 --out benchmarks/results/pg_search.md
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import ann_search
import numpy as np
from pgtemp import postgres

import prism.index.postgres
from prism.index.ann import AnnConfig
from prism.index.postgres import PostgresStore
from prism.index.sqlite import SqliteStore
from prism.index.store import FileRecord, IndexedFile
from prism.models import Chunk, SearchFilters

MODEL = "bench-random"
PER_FILE = 10


def files(n: int) -> list[IndexedFile]:
    out = []
    for f in range(n // PER_FILE):
        path = f"pkg{f % 100}/mod{f}.py"
        chunks = tuple(Chunk(path=path, language="python", kind="function", name=f"fn{f}_{i}",
                             qualified_name=f"fn{f}_{i}", signature=f"def fn{f}_{i}():", docstring="",
                             start_line=3 * i + 1, end_line=3 * i + 2, content=f"def fn{f}_{i}():\n    return {i}\n",
                             content_hash=f"{f:08x}{i:04x}".ljust(64, "0"), tokens=8) for i in range(PER_FILE))
        out.append(IndexedFile(FileRecord(path, f"{f:064x}", 100, 1.0, "python"), chunks,
                               tuple(f"t{f}-{i}" for i in range(PER_FILE))))
    return out


def load_sqlite(folder: Path, items: list[IndexedFile], vectors: np.ndarray) -> SqliteStore:
    store = SqliteStore(folder / "index.db")
    for start in range(0, len(items), 500):
        store.write_files(items[start:start + 500])
    hashes = [h for item in items for h in item.text_hashes]
    for start in range(0, len(hashes), 5000):
        store.put_embeddings(MODEL, list(zip(hashes[start:start + 5000], vectors[start:start + 5000], strict=True)))
    return store


def load_postgres(url: str, items: list[IndexedFile], vectors: np.ndarray,
                  project: str | None = None) -> PostgresStore:
    store = PostgresStore.connect(url, project or f"bench-{os.getpid()}")
    project = store.project
    with store.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY prism_files(project, path, sha256, size, mtime, language, indexed_at, status, warnings)"
                      " FROM STDIN") as copy:
            for item in items:
                r = item.record
                copy.write_row((project, r.path, r.sha256, r.size, r.mtime, r.language, 1.0, "indexed", ""))
        ids = dict(cur.execute("SELECT path, id FROM prism_files WHERE project = %s", (project,)).fetchall())
        with cur.copy("COPY prism_chunks(project, file_id, path, language, kind, name, qualified_name, signature,"
                      " docstring, start_line, end_line, content, content_hash, tokens, parent, defines, imports,"
                      " calls, text_hash, terms, tf, length) FROM STDIN") as copy:
            for item in items:
                for c, h in zip(item.chunks, item.text_hashes, strict=True):
                    copy.write_row((project, ids[c.path], c.path, c.language, c.kind, c.name, c.qualified_name,
                                    c.signature, "", c.start_line, c.end_line, c.content, c.content_hash, c.tokens,
                                    "", "[]", "[]", "[]", h, "", "{}", 0))
        hashes = [h for item in items for h in item.text_hashes]
        with cur.copy("COPY prism_embeddings(project, model, text_hash, dim, vector) FROM STDIN") as copy:
            for h, v in zip(hashes, vectors, strict=True):
                copy.write_row((project, MODEL, h, len(v), "[" + ",".join(map(str, v.tolist())) + "]"))
        cur.execute("INSERT INTO prism_counts(project, chunks, length) VALUES (%s, %s, 0)", (project, len(hashes)))
    started = time.perf_counter()
    store.put_embeddings(MODEL, [(hashes[0], vectors[0])])  # creates the HNSW index over every loaded row
    store.build_seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    return store


def timed(store: SqliteStore | PostgresStore, queries: np.ndarray) -> tuple[list[float], list[list[int]]]:
    store.nearest(MODEL, queries[:1], 10)  # warm: SQLite maps its matrix, PostgreSQL its pages
    times, found = [], []
    for q in queries:
        started = time.perf_counter()
        hits = store.nearest(MODEL, q[None, :], 10)
        times.append((time.perf_counter() - started) * 1000)
        found.append([cid for cid, _ in hits])
    return times, found


# -- real vectors (ann_search.py's set), beside SQLite exact and SQLite + usearch at the same size ----------


def tune_build(url: str, memory: str, workers: int) -> None:
    """Server settings for one big HNSW build: the whole graph in memory, parallel workers."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET maintenance_work_mem = '{memory}'")
        conn.execute(f"ALTER SYSTEM SET max_parallel_maintenance_workers = {workers}")
        conn.execute("SELECT pg_reload_conf()")


def load_real(url: str, data: Path, size: int, project: str, memory: str, workers: int) -> dict[str, object]:
    vectors = ann_search.vectors_of_size(np.load(data / "real.npy"), size)
    tune_build(url, memory, workers)
    started = time.perf_counter()
    store = load_postgres(url, ann_search.indexed_files(0, size), vectors, project)
    with store.pool.connection() as conn:
        sizes = dict(conn.execute(
            "SELECT 'table_mib', pg_total_relation_size('prism_embeddings') / 2.0 ^ 20 UNION ALL"
            " SELECT 'hnsw_mib', pg_relation_size('prism_embeddings_hnsw_384') / 2.0 ^ 20").fetchall())
    store.close()
    return {"size": size, "load_s": round(time.perf_counter() - started, 1),
            "build_s": round(float(getattr(store, "build_seconds", 0.0)), 1),
            "maintenance_work_mem": memory, "max_parallel_maintenance_workers": workers,
            **{k: round(float(v), 1) for k, v in sizes.items()}}


def model_of(store: SqliteStore | PostgresStore) -> str:
    return MODEL if isinstance(store, PostgresStore) else ann_search.MODEL


def names(store: SqliteStore | PostgresStore, hits: list[tuple[int, float]]) -> list[str]:
    by_id = {sc.id: sc.chunk.name for sc in store.get_chunks([cid for cid, _ in hits])}
    return [by_id[cid] for cid, _ in hits]


def search_real(url: str, data: Path, folder: Path, project: str, efs: list[int]) -> dict[str, object]:
    """The same queries through every store's nearest(limit=10), interleaved per query."""
    exact = SqliteStore(folder / "index.db", AnnConfig(threshold=0))
    approx = SqliteStore(folder / "index.db", AnnConfig(threshold=1))
    reread = SqliteStore(folder / "index.db", AnnConfig(threshold=1, score_from_main=False))
    pg = PostgresStore.connect(url, project)
    short, long = ann_search.queries(data)
    # ann_search.py's stores hold the vectors under its MODEL; load_postgres stores them under ours
    stores: dict[str, tuple[SqliteStore | PostgresStore, int]] = {
        "sqlite exact": (exact, 0), "sqlite + usearch f16": (approx, 0),
        "sqlite + usearch f16, float32 re-rank from SQLite": (reread, 0),
        **{f"pgvector ef_search {ef}": (pg, ef) for ef in efs}}
    for store, _ in stores.values():
        store.nearest(model_of(store), short[0], 10)  # warm: map the matrix / the index file / the pages
    out: dict[str, object] = {}
    for kind, qs in (("one_vector", short), ("windows", long)):
        times: dict[str, list[float]] = {name: [] for name in stores}
        recall: dict[str, list[float]] = {name: [] for name in stores}
        for q in qs:
            found = {}
            for name, (store, ef) in stores.items():
                prism.index.postgres.EF_SEARCH = ef or prism.index.postgres.EF_SEARCH
                started = time.perf_counter()
                found[name] = store.nearest(model_of(store), q, 10)
                times[name].append(time.perf_counter() - started)
            truth = set(names(exact, found["sqlite exact"]))
            for name, (store, _) in stores.items():
                recall[name].append(len(truth & set(names(store, found[name]))) / max(1, len(truth)))
        out[kind] = {name: {"recall@10": round(float(np.mean(recall[name])), 4),
                            "p50_ms": round(ann_search.percentile(times[name], 50), 1),
                            "p95_ms": round(ann_search.percentile(times[name], 95), 1)} for name in stores}
    out["filtered"] = filtered(exact, approx, pg, short[:10])
    for store, _ in stores.values():
        store.close()
    return out


def filtered(exact: SqliteStore, approx: SqliteStore, pg: PostgresStore, qs: list[np.ndarray]) -> dict[str, object]:
    """Filtered nearest(): does the pgvector pass use the index, and how often does it fall back to exact?"""
    prism.index.postgres.EF_SEARCH = 200
    out: dict[str, object] = {}
    for label, flt in (("language=python (every row)", SearchFilters(languages=("python",))),
                       ("path pkg7/ (1 % of rows)", SearchFilters(path="pkg7/"))):
        where, params = pg._filter_sql(flt)
        vector = "[" + ",".join(map(str, qs[0][0].tolist())) + "]"
        plans = {}
        for exact_pass in (False, True):
            query, args, ef = pg.nearest_sql(MODEL, 384, vector, 10, where, params, exact=exact_pass)
            with pg.pool.connection() as conn, conn.transaction():
                conn.execute(f"SET LOCAL hnsw.ef_search = {ef}")
                plan = [str(r[0]) for r in conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query, args).fetchall()]
            plans["exact pass" if exact_pass else "index pass"] = plan
        row: dict[str, object] = {"plans": plans}
        for name, store in (("sqlite exact", exact), ("sqlite + usearch f16", approx), ("pgvector", pg)):
            times, counts, recalls = [], [], []
            for q in qs:
                started = time.perf_counter()
                hits = store.nearest(model_of(store), q, 10, flt)
                times.append(time.perf_counter() - started)
                counts.append(len(hits))
                truth = set(names(exact, exact.nearest(ann_search.MODEL, q, 10, flt)))
                recalls.append(len(truth & set(names(store, hits))) / max(1, len(truth)))
            row[name] = {"p50_ms": round(ann_search.percentile(times, 50), 1),
                         "p95_ms": round(ann_search.percentile(times, 95), 1),
                         "rows_min": min(counts), "recall@10": round(float(np.mean(recalls)), 3)}
        out[label] = row
    return out


def main_real(args: argparse.Namespace) -> None:
    import json

    with postgres(args.url) as url:
        if args.step == "load":
            result = load_real(url, args.real, args.size, args.project, args.build_memory, args.build_workers)
        else:
            result = search_real(url, args.real, args.sqlite, args.project, args.ef)
    load = os.getloadavg()
    result["machine"] = f"{platform.node()}, {os.cpu_count()} CPUs, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    result["at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--url", help="an existing PostgreSQL with pgvector (default: a throwaway pgserver)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--real", type=Path, help="ann_search.py's data folder: its real vectors and queries")
    parser.add_argument("--step", choices=["load", "search"], default="search", help="with --real")
    parser.add_argument("--size", type=int, default=500_000, help="with --real")
    parser.add_argument("--sqlite", type=Path, help="with --real: ann_search.py's store of the same size")
    parser.add_argument("--project", default="bench-real", help="with --real")
    parser.add_argument("--ef", type=lambda v: [int(x) for x in v.split(",")], default=[40, 100, 200])
    parser.add_argument("--build-memory", default="2GB", help="maintenance_work_mem for the HNSW build")
    parser.add_argument("--build-workers", type=int, default=1, help="max_parallel_maintenance_workers")
    args = parser.parse_args()
    if args.real:
        main_real(args)
        return
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((args.chunks, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    items = files(args.chunks)
    exact = [set(np.argsort(-(vectors @ q))[:10].tolist()) for q in queries]  # row numbers
    with tempfile.TemporaryDirectory() as tmp, postgres(args.url) as url:
        t0 = time.perf_counter()
        lite = load_sqlite(Path(tmp), items, vectors)
        t1 = time.perf_counter()
        pg = load_postgres(url, items, vectors)
        t2 = time.perf_counter()
        rows = {}
        for name, store in (("sqlite (numpy brute force)", lite), ("postgresql (pgvector HNSW)", pg)):
            order = {sc.id: n for n, sc in enumerate(store.iter_chunks())}  # chunk id → row number
            times, found = timed(store, queries)
            recall = float(np.mean([len({order[c] for c in f} & e) / 10 for f, e in zip(found, exact, strict=True)]))
            rows[name] = (float(np.percentile(times, 50)), float(np.percentile(times, 95)), recall)
        build = float(getattr(pg, "build_seconds", 0.0))
        vector = "[" + ",".join(map(str, queries[0].tolist())) + "]"
        with pg.pool.connection() as conn:  # the plan of nearest()'s inner query: is the HNSW index used?
            plan = "\n".join(str(r[0]) for r in conn.execute(
                f"EXPLAIN SELECT text_hash FROM prism_embeddings e WHERE e.project = %s AND e.model = %s"
                f" AND e.dim = {args.dim} ORDER BY e.vector::vector({args.dim}) <=> %s::vector({args.dim}) LIMIT 10",
                (pg.project, MODEL, vector)).fetchall())
        uses_index = "prism_embeddings_hnsw" in plan
        pg.forget()
        lite.close()
    load = os.getloadavg()
    lines = [
        "# Vector search: pgvector HNSW beside the embedded store",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.node()}, {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}); load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}.",
        f"{args.chunks:,} chunks, {args.dim} dimensions, random unit vectors; {args.queries} random queries, "
        "`nearest(limit=10)` without filters, one query at a time; PostgreSQL 16.2 + pgvector 0.6.2 (pgserver, "
        "default settings), HNSW m=16, ef_construction=64, ef_search=200.",
        f"Load: SQLite {t1 - t0:.0f} s (write_files + put_embeddings); PostgreSQL {t2 - t1:.0f} s (COPY), "
        f"of which HNSW build {build:.0f} s.",
        "",
        "| store | p50 ms | p95 ms | recall@10 vs exact |",
        "|---|---:|---:|---:|",
        *[f"| {name} | {p50:.1f} | {p95:.1f} | {recall:.3f} |" for name, (p50, p95, recall) in rows.items()],
        "",
        f"nearest()'s inner query {'uses' if uses_index else 'does NOT use'} the HNSW index (EXPLAIN).",
        "",
        "Random vectors are the hard case for HNSW (no clusters); real embeddings usually recall more.",
        "",
        f"Command: `.venv/bin/python benchmarks/pg_search.py --chunks {args.chunks} --dim {args.dim} "
        f"--queries {args.queries}`",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
