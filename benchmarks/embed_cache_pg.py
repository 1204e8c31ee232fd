"""The chunk-embedding cache in PostgreSQL beside the embedded SQLite file: bytes per vector, put and get per batch.

N random 384-d float32 vectors (MiniLM's size) under SHA-256 hex hashes are put in batches of
1,000 (what an index run writes after each embedding batch, at most), then read back in batches
of 1,000; the same into `EmbeddingCache` (PRISM_HOME/embeddings.db). Size is PostgreSQL's
`pg_total_relation_size` after VACUUM (heap with its TOAST, and the primary key) and the SQLite
file's size, per vector.

    flock /tmp/prism-bench.lock .venv/bin/python benchmarks/embed_cache_pg.py --out benchmarks/results/embed_cache_pg.md
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pgtemp import postgres

from prism.index.embed_cache import ChunkVectorCache, EmbeddingCache
from prism.index.embed_cache_postgres import PostgresEmbeddingCache

MODEL = "minilm-l6-v2-int8"
BATCH = 1000


def timed(cache: ChunkVectorCache, hashes: Sequence[str], rows: np.ndarray) -> tuple[float, float]:
    """µs per vector to put, then to get, in batches of BATCH."""
    started = time.perf_counter()
    for s in range(0, len(hashes), BATCH):
        cache.put(MODEL, list(zip(hashes[s:s + BATCH], rows[s:s + BATCH], strict=True)))
    put_s = time.perf_counter() - started
    started = time.perf_counter()
    for s in range(0, len(hashes), BATCH):
        assert len(cache.get(MODEL, hashes[s:s + BATCH])) == len(hashes[s:s + BATCH])
    get_s = time.perf_counter() - started
    return put_s / len(hashes) * 1e6, get_s / len(hashes) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=50_000)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL to use (default: a throwaway pgserver)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    load_start = os.getloadavg()
    rows = np.random.default_rng(0).standard_normal((args.vectors, 384)).astype(np.float32)
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(args.vectors)]

    def on_postgres() -> tuple[float, float, float]:
        with postgres(args.database_url) as url:
            cache = PostgresEmbeddingCache(url)
            try:
                put_us, get_us = timed(cache, hashes, rows)
                with cache._connected().connection() as conn:  # the benchmark reads the table's size
                    conn.execute("VACUUM ANALYZE prism_embedding_cache")
                    row = conn.execute("SELECT pg_total_relation_size('prism_embedding_cache'),"
                                       " COUNT(*) FROM prism_embedding_cache").fetchone()
                    assert row is not None
                    size, count = int(row[0]), int(row[1])
            finally:
                cache.close()
        return size / count, put_us, get_us

    def on_sqlite() -> tuple[float, float, float]:
        with tempfile.TemporaryDirectory() as folder:
            cache = EmbeddingCache(Path(folder) / "embeddings.db")
            try:
                put_us, get_us = timed(cache, hashes, rows)
            finally:
                cache.close()
            size = sum(p.stat().st_size for p in Path(folder).iterdir())
        return size / args.vectors, put_us, get_us

    measures: list[tuple[str, Callable[[], tuple[float, float, float]]]] = [
        ("PostgreSQL `prism_embedding_cache` (bytea)", on_postgres), ("SQLite `embeddings.db` (WAL)", on_sqlite)]
    results = [(name, *measure()) for name, measure in measures]
    load_end = os.getloadavg()
    lines = ["# Chunk-embedding cache: PostgreSQL table beside the embedded SQLite file", "",
             f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.node() or 'vm'}, "
             f"{os.cpu_count()} CPUs (shared); load average at start {' / '.join(f'{x:.2f}' for x in load_start)}, "
             f"at end {' / '.join(f'{x:.2f}' for x in load_end)}",
             "- command: `flock /tmp/prism-bench.lock .venv/bin/python benchmarks/embed_cache_pg.py"
             f" --vectors {args.vectors} --out benchmarks/results/embed_cache_pg.md`",
             f"- {args.vectors:,} random 384-d float32 vectors, batches of {BATCH}; PostgreSQL: pgserver 16.2"
             " on a Unix socket (or the URL given)", "",
             "| cache | bytes per vector | GB per million | put µs/vector | get µs/vector |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {size:,.0f} | {size * 1e6 / 1e9:.2f} | {put_us:.1f} | {get_us:.1f} |"
              for name, size, put_us, get_us in results]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
