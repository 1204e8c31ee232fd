"""The user-reported ranking misses (issue 14) replayed on a real project: top hits and pack mix.

Point it at any source tree (e.g. the httpx 0.28.1 sdist: `pip download --no-deps --no-binary
:all: httpx==0.28.1`, unpacked outside the repository); the index goes under --home.

    .venv/bin/python benchmarks/ranking_probe.py --root /path/httpx-0.28.1 --home /tmp/probe [--embed]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from prism.config import Settings
from prism.engine import Prism
from prism.ingest.paths import place_of

QUERIES = ("Client", "Limits", "where are redirects followed", "teleport a quokka",
           "verify password")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--embed", action="store_true", help="with the bundled MiniLM vectors")
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("queries", nargs="*", default=list(QUERIES))
    a = ap.parse_args()
    settings = (Settings(home=a.home, embed=True) if a.embed
                else Settings(home=a.home, embedder="hashing", embed=False))
    with Prism(a.root, settings=settings) as prism:
        prism.index()
        for query in a.queries:
            print(f"## {query}")
            for hit in prism.search(query, limit=a.limit).hits:
                c = hit.chunk.chunk
                lexical = "lexical" if hit.explain.get("lexical") else "no lexical match"
                print(f"  {hit.score:.3f}  {c.path}:{c.start_line}  {c.kind} {c.qualified_name}  ({lexical})")
            pack = prism.context(query, budget_tokens=a.budget)
            places = Counter(place_of(c.path, c.kind) for c in pack.chunks)
            print(f"  {a.budget}-token pack: {len(pack.chunks)} chunks, {dict(sorted(places.items()))}")


if __name__ == "__main__":
    main()
