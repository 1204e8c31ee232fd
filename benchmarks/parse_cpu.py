"""CPU of reading, chunking and pricing every file of a tree in-process (`parse_pool.parse_file`, no writes).

Run it once per checkout, alternating, to see what a change costs the parse workers:

    for s in src /work/main/src; do PYTHONPATH=$s flock /tmp/prism-bench.lock python benchmarks/parse_cpu.py TREE; done
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from prism.index.parse_pool import ParseJob, ParseOptions, parse_file
from prism.ingest.walk import WalkOptions, walk


def main() -> None:
    root = Path(sys.argv[1])
    files = list(walk(root, WalkOptions(max_file_bytes=1_000_000)))
    options = ParseOptions(root, "cl100k_base", 1500, 60, 10)
    parse_file(options, ParseJob(files[0], True, None))  # grammars and vocabulary loaded
    started = time.process_time()
    chunks = 0
    for source in files:
        parsed = parse_file(options, ParseJob(source, True, None))
        chunks += len(parsed.item.chunks) if parsed.item is not None else 0
    print(f"{len(files)} files, {chunks} chunks, parse CPU {time.process_time() - started:.2f} s")


if __name__ == "__main__":
    main()
