"""How long after a save does `prism watch` make the edit searchable?

    .venv/bin/python benchmarks/watch_latency.py --path /tmp/bench/astroid [--edits 10] [--record]

Indexes the tree (MiniLM by default), starts the watcher in a thread, then appends a new
function with a unique name to a real file, `--edits` times, and measures from the write
until the function's chunk is in the index with its vector. Reports p50/p95/max.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import threading
import time
from pathlib import Path

from evaldata import machine  # benchmarks/ is on sys.path when run as a script

from prism.config import Settings
from prism.engine import Prism
from prism.service.watch import watch_project

RESULTS = Path(__file__).parent / "results" / "watch_latency.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", type=Path, required=True, help="a tree to watch (it is edited, then restored)")
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--home", type=Path, default=Path.home() / ".cache" / "prism-bench" / "watch-home",
                        help="PRISM_HOME to use (kept between runs, so the first index's vectors are reused)")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    root = args.path.resolve()
    settings = Settings(home=args.home, embedder=args.embedder)
    files = sorted(p for p in root.rglob("*.py") if p.is_file() and p.stat().st_size > 2000)
    rng = random.Random(7)
    targets = [rng.choice(files) for _ in range(args.edits)]
    originals = {p: p.read_bytes() for p in set(targets)}

    latencies: list[float] = []
    stop = threading.Event()
    with Prism(root, settings=settings) as writer, Prism(root, settings=settings) as reader:
        ready = threading.Event()

        def run() -> None:
            for _report in watch_project(writer, debounce_ms=50, stop=stop):
                ready.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        ready.wait(3600)
        model = writer.embedder.model_id
        try:
            for i, target in enumerate(targets):
                name = f"watch_probe_{os.getpid()}_{i}"
                with target.open("a", encoding="utf-8") as fh:
                    fh.write(f"\n\ndef {name}():\n    return {i}\n")
                started = time.perf_counter()
                while True:
                    ids = [cid for cid, _ in reader.store.find_refs([name])]
                    if ids and reader.store.count_pending_embeddings(model) == 0:
                        break
                    if time.perf_counter() - started > 60:
                        raise SystemExit(f"edit {i} not indexed within 60 s")
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - started)
        finally:
            for path, data in originals.items():
                path.write_bytes(data)
            stop.set()
            thread.join(30)

    latencies.sort()
    result = {
        "tree": str(root), "edits": len(latencies), "embedder": args.embedder,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "machine": f"{machine()}, load {os.getloadavg()[0]:.1f}", "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(result, indent=2))
    if args.record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(f"\n### {result['date']} — {root.name} — {args.embedder}\n\n"
                     f"Machine: {result['machine']}\n\n"
                     "Command: `.venv/bin/python benchmarks/watch_latency.py "
                     f"--path {root} --edits {args.edits} --embedder {args.embedder} --record`\n\n"
                     "| metric | value |\n|---|---|\n")
            for key in ("edits", "p50_ms", "p95_ms", "max_ms"):
                fh.write(f"| {key} | {result[key]} |\n")


if __name__ == "__main__":
    main()
