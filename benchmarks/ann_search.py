"""Dense search at 200 k–500 k chunks: exact numpy against the approximate index (usearch HNSW).

Real vectors: the bundled MiniLM's vectors of a real checkout's chunks, read from an index that
`prism index` built (`prepare`), and real queries embedded by the same model: CoSQA dev
queries (one vector each) and SWE-bench Lite dev issue texts (their windows, as a search
sends them). Sizes past the real count are filled with perturbed copies of real vectors (a real
vector plus Gaussian noise, renormalised; cosine ≈ 0.86 to its source) — said so in the output.

Steps, each one short run (wrap timing runs in `flock /tmp/prism-bench.lock`):

    python benchmarks/ann_search.py prepare --index INDEX.db --data /tmp/ann/data
    python benchmarks/ann_search.py store --data /tmp/ann/data --size 500000 --store /tmp/ann/s500k
    python benchmarks/ann_search.py build --store /tmp/ann/s500k --dtype f16
    python benchmarks/ann_search.py search --data /tmp/ann/data --store /tmp/ann/s500k

`search` asks both paths the same queries, interleaved, through `SqliteStore.nearest` (what a
PRISM search calls): p50/p95 ms for one query vector and for an issue's windows, recall@10
of the approximate path against the exact one, and the resident memory of a fresh process
that answers them (anonymous: private to the worker; file-backed: shared page cache).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from prism.index.ann import AnnConfig, read_info
from prism.index.sqlite import SqliteStore
from prism.index.store import FileRecord, IndexedFile
from prism.models import Chunk

MODEL = "minilm"
PER_FILE = 50
NOISE = 0.6  # per-vector norm of the noise added to a real vector for a synthetic copy
EVAL = Path("/work/shared/eval")


def prepare(index: Path, data: Path, short_queries: int) -> None:
    """Real vectors from an embedded index, and real queries embedded by the same model."""
    import sqlite3

    from prism.index.embed import load_embedder
    from prism.retrieve.dense import query_windows
    from prism.retrieve.query import parse_query

    data.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    model = conn.execute("SELECT value FROM meta WHERE key='embed_model'").fetchone()[0]
    rows = conn.execute("SELECT vector FROM embeddings WHERE model=? ORDER BY text_hash", (model,)).fetchall()
    matrix = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    np.save(data / "real.npy", matrix)
    embedder = load_embedder("minilm")
    assert embedder.model_id == model, (embedder.model_id, model)
    cosqa = [json.loads(line)["query"] for line in (EVAL / "cosqa/dev_queries.jsonl").open()][:short_queries]
    np.save(data / "short.npy", np.asarray(embedder.embed_queries(cosqa), dtype=np.float32))
    issues = [json.loads(line)["problem_statement"] for line in (EVAL / "swebench_lite_dev.jsonl").open()]
    windows = [query_windows(parse_query(text)) for text in issues]
    flat = np.asarray(embedder.embed_queries([w for ws in windows for w in ws]), dtype=np.float32)
    np.save(data / "long.npy", flat)
    np.save(data / "long_counts.npy", np.asarray([len(ws) for ws in windows]))
    print(json.dumps({"model": model, "real_vectors": len(matrix), "short_queries": len(cosqa),
                      "long_queries": len(windows), "windows": len(flat)}))


def vectors_of_size(real: np.ndarray, size: int, seed: int = 1) -> np.ndarray:
    """The real vectors, then perturbed copies of them up to `size`."""
    if size <= len(real):
        return real[:size]
    rng = np.random.default_rng(seed)
    extra = real[rng.integers(0, len(real), size - len(real))]
    extra = extra + rng.normal(scale=NOISE / np.sqrt(real.shape[1]), size=extra.shape).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.concatenate([real, extra]).astype(np.float32)


def indexed_files(first: int, end: int) -> list[IndexedFile]:
    """Files of PER_FILE chunks for vectors first..end; chunk n has text hash `h{n}` and name `fn{file}_{i}`."""
    batch = []
    for f in range(first // PER_FILE, end // PER_FILE):
        path = f"pkg{f % 100}/mod{f}.py"
        chunks = tuple(Chunk(path=path, language="python", kind="function", name=f"fn{f}_{i}",
                             qualified_name=f"fn{f}_{i}", signature="", docstring="", start_line=2 * i + 1,
                             end_line=2 * i + 2, content=f"def fn{f}_{i}(): pass\n", content_hash=f"{f}-{i}",
                             tokens=4) for i in range(PER_FILE))
        record = FileRecord(path, hashlib.sha256(path.encode()).hexdigest(), 10, 1.0, "python")
        batch.append(IndexedFile(record, chunks, tuple(f"h{f * PER_FILE + i}" for i in range(PER_FILE))))
    return batch


def build_store(data: Path, size: int, folder: Path) -> None:
    vectors = vectors_of_size(np.load(data / "real.npy"), size)
    folder.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(folder / "index.db", AnnConfig(threshold=0))
    started = time.perf_counter()
    for first in range(0, size, 20_000):
        batch = indexed_files(first, min(size, first + 20_000))
        store.write_files(batch)
        hashes = [h for item in batch for h in item.text_hashes]
        store.put_embeddings(MODEL, [(h, vectors[int(h[1:])]) for h in hashes])
    store.set_meta({"embed_model": MODEL})
    print(json.dumps({"size": size, "seconds": round(time.perf_counter() - started, 1),
                      "synthetic": max(0, size - len(np.load(data / "real.npy", mmap_mode="r")))}))
    store.close()


def build_ann(folder: Path, dtype: str) -> None:
    store = SqliteStore(folder / "index.db", AnnConfig(threshold=1, dtype=dtype))  # type: ignore[arg-type]
    started = time.perf_counter()
    store.maintain_vectors(MODEL, wait=True)
    seconds = time.perf_counter() - started
    info = read_info(store.path, MODEL)
    assert info is not None
    print(json.dumps({"dtype": dtype, "count": info.count, "build_s": round(seconds, 1),
                      "file_mib": round(info.size / 2**20, 1),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
    store.close()


def queries(data: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    short = list(np.load(data / "short.npy")[:, None, :])
    flat, counts = np.load(data / "long.npy"), np.load(data / "long_counts.npy")
    ends = np.cumsum(counts)
    return short, [flat[end - n:end] for n, end in zip(counts, ends, strict=True)]


def memory() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


def serve(data: Path, folder: Path, mode: str) -> None:
    """In a fresh process: answer every query on one path, then report its resident memory."""
    threshold = 0 if mode == "exact" else 1
    store = SqliteStore(folder / "index.db", AnnConfig(threshold=threshold))
    short, long = queries(data)
    for q in short + long:
        store.nearest(MODEL, q, 200)
    print(json.dumps(memory()))


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, p))


def search(data: Path, folder: Path, limit: int) -> dict[str, object]:
    exact = SqliteStore(folder / "index.db", AnnConfig(threshold=0))
    approx = SqliteStore(folder / "index.db", AnnConfig(threshold=1))
    reread = SqliteStore(folder / "index.db", AnnConfig(threshold=1, score_from_main=False))  # before issue 13
    info = read_info(approx.path, MODEL)
    assert info is not None and approx.ann.main(MODEL, 384) is not None
    short, long = queries(data)
    out: dict[str, object] = {"vectors": info.count, "dtype": info.dtype, "limit": limit}
    paths = {"exact": exact, "ann": approx, "ann_sqlite_rerank": reread}
    for store in paths.values():
        store.nearest(MODEL, short[0], limit)  # warm: the exact path maps its matrix once
    for name, qs in (("one_vector", short), ("windows", long)):
        times: dict[str, list[float]] = {mode: [] for mode in paths}
        recalls: dict[str, list[float]] = {mode: [] for mode in paths}
        for q in qs:
            found = {}
            for mode, store in paths.items():  # interleaved A/B
                started = time.perf_counter()
                found[mode] = store.nearest(MODEL, q, limit)
                times[mode].append(time.perf_counter() - started)
            truth = {cid for cid, _ in found["exact"][:10]}
            for mode in paths:
                recalls[mode].append(len(truth & {cid for cid, _ in found[mode][:10]}) / max(1, len(truth)))
        out[name] = {"queries": len(qs), "recall@10": round(float(np.mean(recalls["ann"])), 4),
                     "recall@10_min": round(float(np.min(recalls["ann"])), 2),
                     "recall@10_sqlite_rerank": round(float(np.mean(recalls["ann_sqlite_rerank"])), 4),
                     **{f"{m}_p50_ms": round(percentile(t, 50), 2) for m, t in times.items()},
                     **{f"{m}_p95_ms": round(percentile(t, 95), 2) for m, t in times.items()}}
    for store in paths.values():
        store.close()
    out["file_mib"] = round(info.size / 2**20, 1)
    for mode in ("exact", "ann"):
        result = subprocess.run([sys.executable, __file__, "serve", "--data", str(data), "--store", str(folder),
                                 "--mode", mode], capture_output=True, text=True, check=True)
        out[f"rss_{mode}_mib"] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["prepare", "store", "build", "search", "serve"])
    parser.add_argument("--index", type=Path)
    parser.add_argument("--data", type=Path, default=Path("/tmp/ann/data"))
    parser.add_argument("--store", type=Path)
    parser.add_argument("--size", type=int, default=500_000)
    parser.add_argument("--dtype", default="f16", choices=["f16", "i8"])
    parser.add_argument("--short-queries", type=int, default=200)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--mode", choices=["exact", "ann"], default="ann")
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.index, args.data, args.short_queries)
    elif args.step == "store":
        build_store(args.data, args.size, args.store)
    elif args.step == "build":
        build_ann(args.store, args.dtype)
    elif args.step == "serve":
        serve(args.data, args.store, args.mode)
    else:
        result = search(args.data, args.store, args.limit)
        result["machine"] = f"{platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()}"
        print(json.dumps(result))


if __name__ == "__main__":
    main()
