"""Time to fully indexed (vectors included) per million tokens: two PRISM source trees A/B, interleaved.

    flock /tmp/prism-bench.lock .venv/bin/python benchmarks/index_full_ab.py TREE \
        --a /work/main/src --b src [--rounds 2]

Each run is a fresh `prism index TREE --embed --json` process (MiniLM, its own PRISM_HOME, so no
shared embedding cache), followed by a re-index after touching every file's mtime (nothing to
embed: the model should stay unloaded). Wall time and CPU seconds (user + sys of the process and
its descendants) come from getrusage; the tokens are those the index reports writing (the
chunker's count, the same for A and B), so "per million tokens" divides by one figure for both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from index_cold_ab import measure  # benchmarks/ is on sys.path when run as a script


def touch_all(tree: Path) -> None:
    now = time.time()
    for dirpath, _dirs, names in os.walk(tree):
        for name in names:
            os.utime(os.path.join(dirpath, name), (now, now), follow_symlinks=False)


def one_run(tree: Path, src: Path, report: Path) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="prism-full-ab-"))
    env = {**os.environ, "PYTHONPATH": str(src.resolve()), "PRISM_HOME": str(home), "PRISM_EMBEDDER": "minilm"}
    command = [sys.executable, "-m", "prism", "index", str(tree), "--embed", "--json", "--quiet"]
    wall, cpu = measure(command, env, stdout=report)
    data = json.loads(report.read_text(encoding="utf-8"))
    touch_all(tree)
    re_wall, re_cpu = measure(command, env, stdout=report)
    shutil.rmtree(home, ignore_errors=True)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "tokens": data["tokens_written"],
            "chunks": data["chunks_written"], "embedded": data["embedded"],
            "cpu_s_per_mtok": round(cpu / data["tokens_written"] * 1e6, 1),
            "wall_s_per_mtok": round(wall / data["tokens_written"] * 1e6, 1),
            "touch_reindex_wall_s": round(re_wall, 2), "touch_reindex_cpu_s": round(re_cpu, 2),
            "load": round(os.getloadavg()[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path)
    parser.add_argument("--a", type=Path, required=True, help="PYTHONPATH of variant A (e.g. main's src)")
    parser.add_argument("--b", type=Path, required=True, help="PYTHONPATH of variant B (this branch's src)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    report = Path(tempfile.mkdtemp(prefix="prism-full-ab-report-")) / "report.json"
    runs: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    for round_no in range(args.rounds):
        order = (("A", args.a), ("B", args.b)) if round_no % 2 == 0 else (("B", args.b), ("A", args.a))
        for name, src in order:
            runs[name].append(one_run(args.tree, src, report))
            print(name, json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    shutil.rmtree(report.parent, ignore_errors=True)
    print(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
