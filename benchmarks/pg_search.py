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

import numpy as np
from pgtemp import postgres

from prism.index.postgres import PostgresStore
from prism.index.sqlite import SqliteStore
from prism.index.store import FileRecord, IndexedFile
from prism.models import Chunk

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


def load_postgres(url: str, items: list[IndexedFile], vectors: np.ndarray) -> PostgresStore:
    store = PostgresStore.connect(url, f"bench-{os.getpid()}")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--url", help="an existing PostgreSQL with pgvector (default: a throwaway pgserver)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
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
