"""Do two PRISM source trees answer hybrid searches and context packs identically on the big index?

Each tree (PYTHONPATH) runs in its own process over the same copy of the 104 k-chunk index of
`http_load.py` (MiniLM query vectors, random document vectors) with the clock frozen (recency
reads it) and dumps, for a fixed query list: the top 10 of 150 pool queries and 10 SWE-bench
Lite dev issue texts searched one after another, 60 of them again (later searches of one
index generation), the same 60 from 8 threads at once (dense stage shared), and 40 context packs
(2,000 tokens). The comparison counts results equal in ids, order, scores and breakdowns.

    .venv/bin/python benchmarks/search_identity.py --a /work/main/src --b src --home /tmp/http/home
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata

FROZEN_CLOCK = 1796270000.0


def dump(home: Path, out: Path) -> None:
    """In the child process: the answers of this PYTHONPATH's engine."""
    import http_load
    from bigindex import CACHE

    import prism.retrieve.search as search_module
    from prism.config import Settings
    from prism.engine import Prism
    from prism.index.embed import load_embedder

    class Clock:
        perf_counter = staticmethod(time.perf_counter)

        @staticmethod
        def time() -> float:
            return FROZEN_CLOCK

    search_module.time = Clock  # type: ignore[assignment]
    index_dir = home / "server" / "indexes" / "bench"
    settings = Settings(home=home, embedder="minilm")
    # build_big_index's corpus, not opened: the shared index is another process's to write.
    engine = Prism((CACHE / "monorepo").resolve(), settings=settings, index_dir=index_dir,
                   embedder=load_embedder("minilm", threads=settings.threads))
    pool = http_load.query_pool(index_dir / "index.db")
    issues = [r["problem_statement"] for r in evaldata.load_swebench(rebuildable_only=False)[:10]]
    queries = random.Random(11).sample(pool, 150) + issues

    def hits(query: str) -> list[Any]:
        return [(h.chunk.id, h.score, sorted(h.explain.items())) for h in engine.search(query, limit=10).hits]

    result: dict[str, list[Any]] = {"one after another": [hits(q) for q in queries]}
    result["again, same generation"] = [hits(q + " again") for q in queries[:60]]
    with ThreadPoolExecutor(8) as pool_threads:
        result["8 threads"] = list(pool_threads.map(lambda q: hits(q + " threads"), queries[:60]))
    result["context packs"] = [engine.context(q + " pack", budget_tokens=2000, record_usage=False).text
                               for q in queries[:40]]
    engine.close()
    out.write_text(json.dumps(result), encoding="utf-8")


def compare(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> list[str]:
    lines = []
    for part, answers in a.items():
        same = sum(x == y for x, y in zip(answers, b[part], strict=True))
        lines.append(f"- {part}: {same}/{len(answers)} identical")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--a", type=Path, help="PYTHONPATH of variant A (e.g. main's src)")
    parser.add_argument("--b", type=Path, help="PYTHONPATH of variant B (this branch's src)")
    parser.add_argument("--home", type=Path, required=True, help="http_load's --home (holds the index copy)")
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # the child's mode
    args = parser.parse_args()
    if args.dump is not None:
        dump(args.home, args.dump)
        return
    answers = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in (("a", args.a), ("b", args.b)):
            out = Path(tmp) / f"{name}.json"
            subprocess.run([sys.executable, __file__, "--home", str(args.home), "--dump", str(out)],
                           env={**os.environ, "PYTHONPATH": str(Path(src).resolve())}, check=True)
            answers.append(json.loads(out.read_text(encoding="utf-8")))
    print("\n".join(compare(*answers)))


if __name__ == "__main__":
    main()
