"""CPU of the hubness neighbourhoods (retrieve/hubness.chunk_neighbourhoods) on a real index.

Copies a lexical-only SQLite index, stores a random unit vector (seeded) for every text that
wants one, and times `chunk_neighbourhoods` — what the first question on an index pays — with
the prism imported from PYTHONPATH, so two checkouts can be compared on the same copy. Prints
the chunks found, the CPU and wall per call, and a digest of the values (equal digests: the
same neighbourhoods).

    PYTHONPATH=src python benchmarks/hub_neighbourhoods.py /path/to/index.db --rounds 5
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import tempfile
import time
from pathlib import Path

MODEL = "bench-random"
DIM = 384


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path, help="an index.db (copied, never written)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import numpy as np

    from prism.index.sqlite import SqliteStore
    from prism.retrieve.hubness import chunk_neighbourhoods

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "index.db"
        shutil.copyfile(args.index, copy)
        store = SqliteStore(copy)
        rng = np.random.default_rng(7)
        while pending := store.pending_embeddings(MODEL, 5000):
            rows = rng.normal(size=(len(pending), DIM)).astype(np.float32)
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
            store.put_embeddings(MODEL, [(h, v) for (h, _), v in zip(pending, rows, strict=True)])
        cpu, wall, hubs = [], [], {}
        for _ in range(args.rounds):
            c, w = time.process_time(), time.perf_counter()
            hubs = chunk_neighbourhoods(store, MODEL)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
        store.close()
    digest = hashlib.sha256(repr(sorted(hubs.items())).encode()).hexdigest()[:16]
    print(f"chunks {len(hubs)}  cpu median {statistics.median(cpu) * 1000:.0f} ms"
          f"  wall median {statistics.median(wall) * 1000:.0f} ms  digest {digest}")


if __name__ == "__main__":
    main()
