"""Cold lexical index (--no-embed) of one tree: two PRISM source trees A/B, interleaved, beside `ctags -R`.

    flock /tmp/prism-bench.lock .venv/bin/python benchmarks/index_cold_ab.py TREE \
        --a /work/main/src --b src [--rounds 2]

Each run is a fresh `prism index TREE --no-embed` process with its own PRISM_HOME. Wall time
and CPU seconds (user + sys of the process and all its descendants: the runner is a subreaper,
so pool workers count too) come from getrusage; the runs alternate A, B, ctags per round to spread machine noise.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evaldata import load_average


def measure(command: list[str], env: dict[str, str], stdout: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command and its waited-for descendants; its
    standard output goes to the file `stdout` (or nowhere)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(stdout or os.devnull, "wb") as out:
        subprocess.run(command, env=env, check=True, stdout=out, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    while True:  # reap the orphans this subreaper adopted (a forkserver and its pool's CPU)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path)
    parser.add_argument("--a", type=Path, required=True, help="PYTHONPATH of variant A (e.g. main's src)")
    parser.add_argument("--b", type=Path, required=True, help="PYTHONPATH of variant B (this branch's src)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    # Become a subreaper: a pool's forkserver outlives `prism index` and is re-parented here,
    # so its CPU (and its workers') is counted once it is reaped.
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    prism = [sys.executable, "-m", "prism", "index", str(args.tree), "--no-embed"]
    runs: dict[str, list[tuple[float, float]]] = {"A": [], "B": [], "ctags": []}
    loads = [load_average()]
    for _ in range(args.rounds):
        for name, src in (("A", args.a), ("B", args.b)):
            home = Path(tempfile.mkdtemp(prefix="prism-ab-"))
            env = {**os.environ, "PYTHONPATH": str(src.resolve()), "PRISM_HOME": str(home)}
            runs[name].append(measure(prism, env))
            shutil.rmtree(home, ignore_errors=True)
        out = Path(tempfile.mkdtemp(prefix="ctags-ab-")) / "tags"
        runs["ctags"].append(measure(["ctags", "-R", "-f", str(out), str(args.tree)], dict(os.environ)))
        shutil.rmtree(out.parent, ignore_errors=True)
        loads.append(load_average())
    result: dict[str, object] = {name: [{"wall_s": round(w, 2), "cpu_s": round(c, 2)} for w, c in values]
                                 for name, values in runs.items()}
    # Per round: B against A, and B against ctags in that round (the goal's ratio is wall to ctags').
    result["ratios"] = [{"b_to_a_cpu": round(b[1] / a[1], 3), "b_to_a_wall": round(b[0] / a[0], 3),
                         "b_to_ctags_wall": round(b[0] / t[0], 1), "a_to_ctags_wall": round(a[0] / t[0], 1)}
                        for a, b, t in zip(runs["A"], runs["B"], runs["ctags"], strict=True)]
    result["loads"] = loads  # 1/5/15-minute load averages before the first round and after each
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
