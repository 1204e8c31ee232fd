"""Compression of the degradation ladder: tokens per level versus full, over every chunk of an index.

    .venv/bin/python benchmarks/compression.py --index ~/.cache/prism-eval/indexes/NAME [--limit N]
        [--out benchmarks/results/context_compression.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import evaldata

from prism.index.sqlite import SqliteStore
from prism.models import LEVELS
from prism.pack.degrade import render
from prism.pack.tokens import get_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", required=True, help="An index folder (holding index.db).")
    parser.add_argument("--limit", type=int, default=0, help="Only the first N chunks (0: all).")
    parser.add_argument("--out", default="benchmarks/results/context_compression.md")
    args = parser.parse_args()
    store = SqliteStore(Path(args.index).expanduser() / "index.db")
    counter = get_tokenizer("cl100k_base")
    totals = dict.fromkeys(LEVELS, 0)
    by_kind: dict[str, dict[str, int]] = {}
    started = time.perf_counter()
    count = 0
    for stored in store.iter_chunks():
        chunk = stored.chunk
        kind = by_kind.setdefault(chunk.kind, dict.fromkeys(LEVELS, 0))
        for level in LEVELS:
            pointer = (f"- L{chunk.start_line}-{chunk.end_line} `{chunk.qualified_name}` "
                       f"(reference, #{chunk.content_hash[:12]})")
            tokens = counter.count(pointer if level == "reference" else render(chunk, level))
            totals[level] += tokens
            kind[level] += tokens
        count += 1
        if args.limit and count >= args.limit:
            break
    seconds = time.perf_counter() - started
    full = totals["full"] or 1
    lines = [
        "# Degradation ladder compression",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {evaldata.machine()}; index `{Path(args.index).name}`, "
        f"{count:,} chunks, {seconds:.1f} s to render and count every level (cl100k tokens).",
        f"Reproduce: `.venv/bin/python benchmarks/compression.py --index {args.index}`",
        "",
        "| level | tokens | share of full |",
        "|---|---|---|",
        *[f"| {level} | {totals[level]:,} | {100 * totals[level] / full:.1f} % |" for level in LEVELS],
        "",
        "By chunk kind (share of full):",
        "",
        "| kind | chunks' full tokens | light | skeleton | signature | reference |",
        "|---|---|---|---|---|---|",
        *[f"| {k} | {v['full']:,} | " + " | ".join(f"{100 * v[lv] / max(v['full'], 1):.1f} %"
                                                   for lv in LEVELS[1:]) + " |" for k, v in sorted(by_kind.items())],
        "",
        "Reference rows count the one-line Markdown pointer the assembler prints for that level.",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
