"""CLI start-up: `prism --help`, `prism search QUERY --project TREE` and `import prism.serve.cli`,
this checkout against a baseline checkout, each a fresh process, interleaved A/B.

The same interpreter runs both sides; PYTHONPATH picks whose `src/` it imports. The tree is a
copy of this checkout's `src/prism`, indexed lexically once (PRISM_EMBED=false) under a
temporary PRISM_HOME that both sides search. Reported per case: the median wall and CPU
(user + system of the child) seconds over --runs runs; on a loaded machine CPU is the steady
figure.

    .venv/bin/python benchmarks/cli_startup.py --baseline /work/main [--runs 15] \\
        [--out benchmarks/results/cli_startup.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata

HERE = Path(__file__).resolve().parents[1]
QUERY = "token budget degradation"


def timed(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall, CPU) seconds of one child process; its exit status is checked (in `ok`), its output dropped."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def commit_of(root: Path) -> str:
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=False)
    return proc.stdout.strip() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, default=Path("/work/main"), help="checkout to compare with")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    load_at_start = evaldata.load_average()
    sides = {"baseline": a.baseline.resolve(), "this": HERE}
    with tempfile.TemporaryDirectory(prefix="prism-cli-startup-") as tmp:
        tree = Path(tmp) / "tree"
        shutil.copytree(HERE / "src" / "prism", tree / "prism")
        base_env = {**os.environ, "PRISM_HOME": str(Path(tmp) / "home"), "PRISM_EMBED": "false"}
        envs = {name: {**base_env, "PYTHONPATH": str(root / "src")} for name, root in sides.items()}
        py = sys.executable
        timed([py, "-m", "prism", "index", str(tree), "--quiet"], envs["this"])
        cases = {
            "import prism.serve.cli": [py, "-c", "import prism.serve.cli"],
            "prism --help": [py, "-m", "prism", "--help"],
            f"prism search '{QUERY}' --project TREE": [py, "-m", "prism", "search", QUERY, "--project", str(tree)],
        }
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {(c, s): [] for c in cases for s in sides}
        for run in range(a.runs + 1):  # run 0 warms the page cache and is dropped
            order = list(sides) if run % 2 else list(reversed(sides))
            for case, cmd in cases.items():
                for side in order:
                    result = timed(cmd, envs[side])
                    if run:
                        samples[case, side].append(result)
    lines = [
        "# CLI start-up",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='minutes')}",
        f"- machine: {os.cpu_count()} cores (`nproc`), {cpu_model()}; load average at start {load_at_start}, "
        f"at end {evaldata.load_average()} (shared box: other jobs were running)",
        f"- command: `.venv/bin/python benchmarks/cli_startup.py --baseline {a.baseline} --runs {a.runs}`",
        f"- baseline: {sides['baseline']} at {commit_of(sides['baseline'])}; this: {HERE} at {commit_of(HERE)}; "
        f"Python {sys.version.split()[0]}; same interpreter, PYTHONPATH selects the `src/`",
        "- tree: a copy of `src/prism`, indexed lexically (PRISM_EMBED=false); fresh process per run, "
        f"A/B interleaved (order alternating), median of {a.runs} runs after one warm-up",
        "",
        "| command | baseline wall s | this wall s | baseline CPU s | this CPU s | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        base, this = samples[case, "baseline"], samples[case, "this"]
        bw, tw = (statistics.median(w for w, _ in s) for s in (base, this))
        bc, tc = (statistics.median(c for _, c in s) for s in (base, this))
        lines.append(f"| `{case}` | {bw:.3f} | {tw:.3f} | {bc:.3f} | {tc:.3f} | {tc / bc:.2f}× |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
