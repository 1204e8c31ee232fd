"""CPU of pricing the degradation levels alone (`parse_pool.priced`) over every chunk of a tree.

Chunks (and their line-token memo) are made first, untimed; then every file's chunks are
priced from the file's parse, as the parse workers do. Run it once per checkout, alternating:

    for s in /work/main/src src; do
        PYTHONPATH=$s flock /tmp/prism-bench.lock python -B benchmarks/price_cpu.py TREE; done
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from prism.index.parse_pool import priced
from prism.ingest.chunk import chunk_file_with_tree
from prism.ingest.walk import WalkOptions, read_source, walk
from prism.pack.line_tokens import LineCounter
from prism.pack.tokens import get_tokenizer


def main() -> None:
    root = Path(sys.argv[1])
    tokenizer = get_tokenizer("cl100k_base")
    prepared = []
    for source in walk(root, WalkOptions(max_file_bytes=1_000_000)):
        _, text = read_source(root, source.path)
        counter = LineCounter(tokenizer)
        parsed, tree = chunk_file_with_tree(source.path, text, source.language, count_tokens=counter.count)
        prepared.append((parsed.chunks, text, tree, counter))
    started = time.process_time()
    for chunks, text, tree, counter in prepared:
        priced(chunks, tokenizer, text, tree, count=counter.count)
    chunks_priced = sum(len(p[0]) for p in prepared)
    print(f"{len(prepared)} files, {chunks_priced} chunks, price CPU {time.process_time() - started:.2f} s")


if __name__ == "__main__":
    main()
