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
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import ann_search
import numpy as np
from pgtemp import postgres

import prism.index.postgres
from prism.index import pg_hnsw
from prism.index.ann import AnnConfig
from prism.index.pg_hnsw import HnswConfig
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


def language_of(path: str) -> str:
    """Real-vector runs: languages by file number, for filters that pass 5 %, 20 %, 25 % and 50 % of rows."""
    n = int(path.rsplit("mod", 1)[1].split(".")[0]) % 20
    return "rust" if n == 0 else "go" if n < 5 else "typescript" if n < 10 else "python"


def load_postgres(url: str, items: list[IndexedFile], vectors: np.ndarray,
                  project: str | None = None, *, hnsw: HnswConfig | None = None, index: bool = True,
                  languages: bool = False) -> PostgresStore:
    store = PostgresStore.connect(url, project or f"bench-{os.getpid()}", hnsw=hnsw)
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
                    language = language_of(c.path) if languages else c.language
                    copy.write_row((project, ids[c.path], c.path, language, c.kind, c.name, c.qualified_name,
                                    c.signature, "", c.start_line, c.end_line, c.content, c.content_hash, c.tokens,
                                    "", "[]", "[]", "[]", h, "", "{}", 0))
        hashes = [h for item in items for h in item.text_hashes]
        with cur.copy("COPY prism_embeddings(project, model, text_hash, dim, vector) FROM STDIN") as copy:
            for h, v in zip(hashes, vectors, strict=True):
                copy.write_row((project, MODEL, h, len(v), "[" + ",".join(map(str, v.tolist())) + "]"))
        cur.execute("INSERT INTO prism_counts(project, chunks, length) VALUES (%s, %s, 0)", (project, len(hashes)))
    with store.pool.connection() as conn:  # the planner's statistics, which nearest() plans by
        conn.execute("ANALYZE prism_files, prism_chunks, prism_embeddings")
    if not index:
        return store
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


def index_sizes(store: PostgresStore) -> dict[str, float]:
    with store.pool.connection() as conn:
        sizes = dict(conn.execute(
            "SELECT 'table_mib', pg_total_relation_size('prism_embeddings') / 2.0 ^ 20 UNION ALL"
            " SELECT 'hnsw_mib', pg_relation_size('prism_embeddings_hnsw_384') / 2.0 ^ 20").fetchall())
    return {k: round(float(v), 1) for k, v in sizes.items()}


def load_real(url: str, data: Path, size: int, project: str, hnsw: HnswConfig, index: bool) -> dict[str, object]:
    """COPY the rows (languages spread for the filter runs), then build the index unless not `index`."""
    vectors = ann_search.vectors_of_size(np.load(data / "real.npy"), size)
    started = time.perf_counter()
    store = load_postgres(url, ann_search.indexed_files(0, size), vectors, project, hnsw=hnsw, index=index,
                          languages=True)
    sizes = index_sizes(store) if index else {}
    store.close()
    return {"size": size, "load_s": round(time.perf_counter() - started, 1),
            "build_s": round(float(getattr(store, "build_seconds", 0.0)), 1), **dataclasses.asdict(hnsw), **sizes}


def rows_of(pg: PostgresStore) -> dict[int, int]:
    """Chunk id → row of the vector matrix (chunk n has text hash `h{n}`)."""
    with pg.pool.connection() as conn:
        return {int(i): int(h[1:]) for i, h in conn.execute(
            "SELECT id, text_hash FROM prism_chunks WHERE project = %s", (pg.project,)).fetchall()}


def exact_top(vectors: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> set[int]:
    """Rows of the exact top k by cosine (best over the query's windows), among `mask`'s rows."""
    sims = (vectors @ q.T).max(axis=1)
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    top = np.argpartition(-sims, k)[:k]
    return {int(r) for r in top if np.isfinite(sims[r])}


def run_queries(pg: PostgresStore, qs: list[np.ndarray], truths: list[set[int]], rows: dict[int, int],
                flt: SearchFilters | None = None) -> dict[str, object]:
    times, recalls, counts = [], [], []
    for q, truth in zip(qs, truths, strict=True):
        started = time.perf_counter()
        hits = pg.nearest(MODEL, q, 10, flt)
        times.append(time.perf_counter() - started)
        counts.append(len(hits))
        recalls.append(len(truth & {rows[c] for c, _ in hits}) / max(1, len(truth)))
    return {"recall@10": round(float(np.mean(recalls)), 4), "p50_ms": round(ann_search.percentile(times, 50), 1),
            "p95_ms": round(ann_search.percentile(times, 95), 1), "rows_min": min(counts)}


def sweep_real(url: str, data: Path, size: int, project: str, base: HnswConfig, builds: list[tuple[int, int]],
               efs: list[int]) -> dict[str, object]:
    """For each (m, ef_construction): build the index over the loaded rows (timed, sized), then the
    queries at each ef_search; recall@10 against numpy's exact top 10 over the same matrix."""
    vectors = ann_search.vectors_of_size(np.load(data / "real.npy"), size)
    short, long = ann_search.queries(data)
    truths = {"one_vector": [exact_top(vectors, q, 10) for q in short],
              "windows": [exact_top(vectors, q, 10) for q in long]}
    pg = PostgresStore.connect(url, project, hnsw=base)
    rows = rows_of(pg)
    out: dict[str, object] = {"size": size, "builds": []}
    exact_times = []
    for q in short:  # numpy's exact scan of the same matrix in this process: what an exact store costs at least
        started = time.perf_counter()
        exact_top(vectors, q, 10)
        exact_times.append(time.perf_counter() - started)
    out["numpy_exact_p50_ms"] = round(ann_search.percentile(exact_times, 50), 1)
    for m, efc in builds or [(0, 0)]:  # none: search the index already built
        config = dataclasses.replace(base, m=m or base.m, ef_construction=efc or base.ef_construction)
        build_s = 0.0
        with pg.pool.connection() as conn:
            if m:
                conn.execute(f"DROP INDEX IF EXISTS {pg_hnsw.index_name(384)}")
                started = time.perf_counter()
                with conn.transaction():
                    pg_hnsw.build_settings(conn, config, local=True)
                    conn.execute(pg_hnsw.create_sql(pg_hnsw.index_name(384), 384, config))
                build_s = time.perf_counter() - started
                conn.execute("ANALYZE prism_embeddings")
            options = pg_hnsw.built_options(conn)[384]
        row: dict[str, object] = {**options, "build_s": round(build_s, 1),
                                  **index_sizes(pg), "at": time.strftime("%H:%M UTC", time.gmtime()),
                                  "load": os.getloadavg()[0]}
        for ef in efs:
            pg.hnsw = dataclasses.replace(config, ef_search=ef)
            pg.nearest(MODEL, short[0], 10)  # warm the index pages
            row[f"ef {ef}"] = {kind: run_queries(pg, qs, truths[kind], rows)
                               for kind, qs in (("one_vector", short), ("windows", long))}
        print(json.dumps(row), flush=True)
        cast_list(out["builds"]).append(row)
    pg.close()
    return out


def cast_list(value: object) -> list[object]:
    assert isinstance(value, list)
    return value


FILTERS = (("path pkg7/ (1 %)", SearchFilters(path="pkg7/"), lambda f: f % 100 == 7),
           ("language rust (5 %)", SearchFilters(languages=("rust",)), lambda f: f % 20 == 0),
           ("language go (20 %)", SearchFilters(languages=("go",)), lambda f: (f % 20 > 0) & (f % 20 < 5)),
           ("language python (50 %)", SearchFilters(languages=("python",)), lambda f: f % 20 >= 10),
           ("language python or typescript (75 %)", SearchFilters(languages=("python", "typescript")),
            lambda f: f % 20 >= 5))


def previous_nearest(pg: PostgresStore, q: np.ndarray, limit: int, flt: SearchFilters) -> list[tuple[int, float]]:
    """The plan before this change, through the same SQL: the index's nearest max(4 × limit, 100)
    rows filtered, then every passing row exactly when fewer than `limit` passed."""
    where, params = pg._filter_sql(flt)
    vector = prism.index.postgres._vector_text(q[0])
    found = pg._nearest_one(MODEL, 384, vector, limit, where, params, exact=False, candidates=max(4 * limit, 100))
    if len(found) < limit:
        found = pg._nearest_one(MODEL, 384, vector, limit, where, params, exact=True)
    return found


def filtered_real(url: str, data: Path, size: int, project: str, base: HnswConfig, count: int) -> dict[str, object]:
    """Filtered nearest() at low, mid and high selectivity: the store's plan beside the previous one."""
    vectors = ann_search.vectors_of_size(np.load(data / "real.npy"), size)
    short = ann_search.queries(data)[0][:count]
    files = np.arange(size) // ann_search.PER_FILE
    pg = PostgresStore.connect(url, project, hnsw=base)
    rows = rows_of(pg)
    out: dict[str, object] = {"size": size, "queries": len(short)}
    for label, flt, passes in FILTERS:
        mask = passes(files)
        truths = [exact_top(vectors, q, 10, mask) for q in short]
        where, params = pg._filter_sql(flt)
        plan = pg.nearest_plan(384, where, params, 10)
        row: dict[str, object] = {"passing": int(mask.sum()), "plan": list(plan)}
        for name in ("previous", "store"):
            times, recalls, counts = [], [], []
            for q, truth in zip(short, truths, strict=True):
                started = time.perf_counter()
                hits = previous_nearest(pg, q, 10, flt) if name == "previous" else pg.nearest(MODEL, q, 10, flt)
                times.append(time.perf_counter() - started)
                counts.append(len(hits))
                recalls.append(len(truth & {rows[c] for c, _ in hits}) / max(1, len(truth)))
            row[name] = {"p50_ms": round(ann_search.percentile(times, 50), 1),
                         "p95_ms": round(ann_search.percentile(times, 95), 1),
                         "rows_min": min(counts), "recall@10": round(float(np.mean(recalls)), 3)}
        print(json.dumps({label: row}), flush=True)
        out[label] = row
    pg.close()
    return out


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
                if isinstance(store, PostgresStore):
                    store.hnsw = dataclasses.replace(store.hnsw, ef_search=ef)
                started = time.perf_counter()
                found[name] = store.nearest(model_of(store), q, 10)
                times[name].append(time.perf_counter() - started)
            truth = set(names(exact, found["sqlite exact"]))
            for name, (store, _) in stores.items():
                recall[name].append(len(truth & set(names(store, found[name]))) / max(1, len(truth)))
        out[kind] = {name: {"recall@10": round(float(np.mean(recall[name])), 4),
                            "p50_ms": round(ann_search.percentile(times[name], 50), 1),
                            "p95_ms": round(ann_search.percentile(times[name], 95), 1)} for name in stores}
    for store, _ in stores.values():
        store.close()
    return out


def main_real(args: argparse.Namespace) -> None:
    hnsw = HnswConfig(m=args.m, ef_construction=args.ef_construction, build_memory=args.build_memory,
                      build_workers=args.build_workers)
    with postgres(args.url) as url:
        if args.step == "load":
            result = load_real(url, args.real, args.size, args.project, hnsw, not args.no_index)
        elif args.step == "sweep":
            result = sweep_real(url, args.real, args.size, args.project, hnsw, args.builds, args.ef)
        elif args.step == "filtered":
            result = filtered_real(url, args.real, args.size, args.project, hnsw, args.queries)
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
    parser.add_argument("--step", choices=["load", "sweep", "filtered", "search"], default="search",
                        help="with --real: load the rows (and build the index), sweep build parameters, "
                             "filtered queries, or search beside ann_search.py's SQLite stores")
    parser.add_argument("--no-index", action="store_true", help="with --step load: COPY only (then sweep)")
    parser.add_argument("--m", type=int, default=HnswConfig.m, help="HNSW m")
    parser.add_argument("--ef-construction", type=int, default=HnswConfig.ef_construction)
    parser.add_argument("--builds", type=lambda v: [tuple(map(int, p.split("/"))) for p in v.split(",") if p],
                        default=[(16, 64)], help="with --step sweep: m/ef_construction pairs, e.g. 16/64,16/128 "
                                                 "('' searches the index already built)")
    parser.add_argument("--size", type=int, default=500_000, help="with --real")
    parser.add_argument("--sqlite", type=Path, help="with --real: ann_search.py's store of the same size")
    parser.add_argument("--project", default="bench-real", help="with --real")
    parser.add_argument("--ef", type=lambda v: [int(x) for x in v.split(",")], default=[40, 100, 200])
    parser.add_argument("--build-memory", default=HnswConfig.build_memory, help="maintenance_work_mem of the build")
    parser.add_argument("--build-workers", type=int, default=1, help="max_parallel_maintenance_workers of the build")
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
