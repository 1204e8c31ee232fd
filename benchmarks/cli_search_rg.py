"""`prism search WORD` as a fresh process against `rg -c -i WORD` over the same tree, warm page cache,
this checkout against a baseline checkout, interleaved A/B.

The tree (default: sympy 1.13.3 exported from the mirror) is indexed lexically once under a
temporary PRISM_HOME that both sides search; then, per word and run, in alternating order: the
baseline's `python -m prism search WORD --project TREE`, this checkout's, the same with --json,
and `rg -c -i WORD TREE`. Compiled bytecode lives under a temporary PYTHONPYCACHEPREFIX (written
by the warm-up run), as an installed package's would: no run pays for compiling the sources.
Reported: median wall and CPU (user + system of the child) per command over words x runs, and
each side's ratio to rg.

    .venv/bin/python benchmarks/cli_search_rg.py --baseline /work/main [--runs 7] \\
        [--tree DIR] [--out benchmarks/results/cli_search_rg.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata
from cli_startup import commit_of, cpu_model, timed

HERE = Path(__file__).resolve().parents[1]
MIRROR = Path("/work/.mirror/sympy+sympy/repo")
TAG = "sympy-1.13.3"
WORDS = ("integrate", "Matrix", "simplify", "lambdify", "assumptions")


def export_tree(mirrors: Path, into: Path) -> Path:
    """sympy at TAG as plain files (no .git) under `into`."""
    tree = into / "sympy"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "--git-dir", str(mirrors), "archive", TAG], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def import_profile(cmd: list[str], env: dict[str, str], top: int = 6) -> tuple[float, list[tuple[str, float]]]:
    """`python -X importtime`: total import seconds (modules the program imported itself) and the `top` largest."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True, text=True, check=True)
    first: list[tuple[str, float]] = []
    for line in proc.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header, or another line on stderr
        name = parts[2]
        if len(name) - len(name.lstrip()) == 1:  # imported by the program, not by another module
            first.append((name.strip(), int(parts[1]) / 1e6))
    return sum(s for _, s in first), sorted(first, key=lambda kv: -kv[1])[:top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, default=Path("/work/main"), help="checkout to compare with")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tree", type=Path, help="an exported tree (default: sympy 1.13.3 from the mirror)")
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if shutil.which("rg") is None:
        raise SystemExit("rg (ripgrep) is not installed")
    load_at_start = evaldata.load_average()
    sides = {"baseline": a.baseline.resolve(), "this": HERE}
    with tempfile.TemporaryDirectory(prefix="prism-cli-rg-") as tmp:
        tree = a.tree.resolve() if a.tree else export_tree(a.mirror, Path(tmp))
        base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base_env.update(PRISM_HOME=str(Path(tmp) / "home"), PRISM_EMBED="false",
                        PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        envs = {name: {**base_env, "PYTHONPATH": str(root / "src")} for name, root in sides.items()}
        py = sys.executable
        timed([py, "-m", "prism", "index", str(tree), "--quiet"], envs["this"])
        cases: dict[str, tuple[str | None, list[str]]] = {
            "baseline `prism search WORD`": ("baseline", ["search"]),
            "this `prism search WORD`": ("this", ["search"]),
            "baseline `prism search WORD --json`": ("baseline", ["search", "--json"]),
            "this `prism search WORD --json`": ("this", ["search", "--json"]),
            "`rg -c -i WORD`": (None, []),
        }
        samples: dict[str, list[tuple[float, float]]] = {case: [] for case in cases}
        for run in range(a.runs + 1):  # run 0 warms the page cache and writes the bytecode; dropped
            for word in WORDS:
                order = list(cases) if run % 2 else list(reversed(cases))
                for case in order:
                    side, args = cases[case]
                    if side is None:
                        cmd, env = ["rg", "-c", "-i", word, str(tree)], base_env
                    else:
                        cmd, env = [py, "-m", "prism", args[0], word, "--project", str(tree), *args[1:]], envs[side]
                    result = timed(cmd, env, ok=(0, 1)) if side is None else timed(cmd, env)
                    if run:
                        samples[case].append(result)
        profiles = {side: import_profile([py, "-m", "prism", "search", WORDS[0], "--project", str(tree)], envs[side])
                    for side in sides}
    rg_wall = statistics.median(w for w, _ in samples["`rg -c -i WORD`"])
    lines = [
        "## `prism search WORD` beside `rg -c -i WORD`, warm page cache",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='minutes')}",
        f"- machine: {os.cpu_count()} cores (`nproc`), {cpu_model()}; load average at start {load_at_start}, "
        f"at end {evaldata.load_average()} (shared box)",
        f"- command: `.venv/bin/python benchmarks/cli_search_rg.py --baseline {a.baseline} --runs {a.runs}`",
        f"- baseline: {sides['baseline']} at {commit_of(sides['baseline'])}; this: {HERE} at {commit_of(HERE)}; "
        f"Python {sys.version.split()[0]}; same interpreter, PYTHONPATH selects the `src/`",
        f"- tree: {'sympy 1.13.3 (' + TAG + ')' if a.tree is None else tree}, indexed lexically (PRISM_EMBED=false); "
        f"words {', '.join(WORDS)}; fresh process per command, A/B interleaved (order alternating), "
        f"median of {len(WORDS)} words x {a.runs} runs after one warm-up; stdout is a pipe",
        "",
        "| command | wall s (median) | CPU s (median) | wall / rg |",
        "|---|---:|---:|---:|",
    ]
    for case, got in samples.items():
        wall = statistics.median(w for w, _ in got)
        cpu = statistics.median(c for _, c in got)
        lines.append(f"| {case} | {wall:.3f} | {cpu:.3f} | {wall / rg_wall:.1f}× |")
    lines += ["", f"`python -X importtime -m prism search {WORDS[0]} --project TREE` (one run each; importtime's own "
              "overhead included): total of the modules the program imported, and the largest of them", ""]
    for side, (total, largest) in profiles.items():
        lines.append(f"- {side}: {total:.3f} s — " + ", ".join(f"`{name}` {secs:.3f}" for name, secs in largest))
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
