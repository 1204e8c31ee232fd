"""Shared evaluation data helpers: load benchmark rows, materialise and index checkouts, score ranks.

Everything heavy lives in a cache folder outside the repository — `$PRISM_EVAL_CACHE`, default
`~/.cache/prism-eval`:

    checkouts/OWNER__NAME@SHA12/   source trees at each row's base_commit (third-party code)
    prism-home/                    PRISM_HOME for the eval (shared embedding cache)
    indexes/OWNER__NAME@SHA12/     one PRISM index per checkout (reused across runs)

Checkouts come from bare mirrors (`$PRISM_EVAL_MIRRORS`, default /work/.mirror, laid out as
OWNER+NAME/repo) through the shared `checkout.py` tool. Used by swebench_eval.py, multiswe_eval.py,
cosqa_eval.py, search_latency.py and the token optimiser's recall-at-budget benchmark.

Only `problem_statement` may be shown to the system under test; the gold fields are for
scoring (`file_ranks`, `function_ranks`, `acc_at`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

EVAL_DIR = Path(os.environ.get("PRISM_EVAL_DATA", "/work/shared/eval"))
SWE_JSONL = EVAL_DIR / "swebench_lite_dev.jsonl"
MULTISWE_JSONL = EVAL_DIR / "multiswe_dev.jsonl"
COSQA_DIR = EVAL_DIR / "cosqa"
CHECKOUT_TOOL = EVAL_DIR / "tools" / "checkout.py"
BM25_TOOL = EVAL_DIR / "tools" / "bm25_baseline.py"
LOCK_WAIT_S = 1800.0


def cache_dir() -> Path:
    """The eval cache folder ($PRISM_EVAL_CACHE or ~/.cache/prism-eval), created if needed."""
    path = Path(os.environ.get("PRISM_EVAL_CACHE", Path.home() / ".cache" / "prism-eval"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirrors_dir() -> Path:
    return Path(os.environ.get("PRISM_EVAL_MIRRORS", "/work/.mirror"))


def load_swebench(path: Path = SWE_JSONL, *, rebuildable_only: bool = True) -> list[dict[str, Any]]:
    """SWE-bench Lite dev rows (only those whose base commit is in a mirror, by default)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if rebuildable_only:
        rows = [r for r in rows if r.get("base_available")
                and (mirrors_dir() / r["repo"].replace("/", "+") / "repo").is_dir()]
    return rows


def load_multiswe(path: Path = MULTISWE_JSONL) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Multi-SWE dev rows (Rust, Java, C++): (rows whose base commit is in a mirror, the others)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    present: list[dict[str, Any]] = []
    absent: list[dict[str, Any]] = []
    for row in rows:
        mirror = mirrors_dir() / row["repo"].replace("/", "+") / "repo"
        found = mirror.is_dir() and subprocess.run(
            ["git", "-C", str(mirror), "cat-file", "-e", f"{row['base_commit']}^{{commit}}"],
            capture_output=True).returncode == 0
        (present if found else absent).append(row)
    return present, absent


def checkout_name(row: dict[str, Any]) -> str:
    """Folder name of a row's checkout: OWNER__NAME@SHA12 (rows at one commit share it)."""
    return f"{row['repo'].replace('/', '__')}@{row['base_commit'][:12]}"


def checkout(row: dict[str, Any], jsonl: Path = SWE_JSONL) -> Path:
    """The row's source tree at base_commit, exported from the mirror on first use (row from `jsonl`)."""
    out = cache_dir() / "checkouts"
    dest = out / checkout_name(row)
    if dest.is_dir():
        return dest
    subprocess.run(
        [sys.executable, str(CHECKOUT_TOOL), "--jsonl", str(jsonl), "--mirrors", str(mirrors_dir()),
         "--out", str(out), "--ids", row["instance_id"]],
        check=True, capture_output=True)
    if not dest.is_dir():
        raise RuntimeError(f"checkout of {row['instance_id']} failed (no {dest})")
    return dest


def eval_settings(**overrides: Any) -> Any:
    """PRISM Settings whose home is inside the eval cache (shared embedding cache lives there)."""
    from prism.config import Settings

    return Settings(home=cache_dir() / "prism-home", **overrides)


def open_index(root: Path, *, embed: bool = True, progress: bool = False, database_url: str | None = None) -> Any:
    """A Prism over `root` with its index under the eval cache, brought up to date (incremental).

    With embed, missing vectors are computed too (minutes per repository the first time on
    2 cores; cached afterwards, and shared across checkouts of one repository). With
    `database_url` the index lives in that PostgreSQL instead (project `root.name`); vectors
    come from the same shared embedding cache, so a repository embedded once is not embedded again.
    """
    from prism.engine import Prism
    from prism.errors import IndexLockedError

    settings = eval_settings(database_url=database_url) if database_url else eval_settings()
    prism = Prism(root, settings=settings, index_dir=cache_dir() / "indexes" / root.name)
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:  # another benchmark may be building the same cached index: wait for it
        try:
            report = prism.index(embed=embed)
            break
        except IndexLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2.0)
    if progress and (report.files_indexed or report.embedded):
        print(f"indexed {root.name}: {report.files_indexed} files, {report.embedded} embedded "
              f"in {report.seconds:.0f}s", file=sys.stderr, flush=True)
    return prism


def fold_symbol(symbol: str, gold: Iterable[str]) -> str | None:
    """The gold function a result symbol counts for: equal, or nested inside it."""
    for name in gold:
        if symbol == name or symbol.startswith(name + "."):
            return name
    return None


def file_ranks(paths: Sequence[str], gold: Iterable[str]) -> dict[str, int]:
    """1-based rank of each gold file among the de-duplicated result paths (absent: missing)."""
    order = list(dict.fromkeys(paths))
    return {g: order.index(g) + 1 for g in gold if g in order}


def function_ranks(results: Sequence[tuple[str, str]], gold: Iterable[str]) -> dict[str, int]:
    """1-based rank of each gold `path:Qualified.name` among de-duplicated (path, symbol) results."""
    gold = list(gold)
    ranks: dict[str, int] = {}
    seen: list[str] = []
    for path, symbol in results:
        wanted = [g.split(":", 1)[1] for g in gold if g.split(":", 1)[0] == path]
        hit = fold_symbol(symbol, wanted)
        key = f"{path}:{hit}" if hit else f"{path}:{symbol}"
        if key in seen:
            continue
        seen.append(key)
        if hit and key not in ranks:
            ranks[key] = len(seen)
    return ranks


def acc_at(ranks: dict[str, int], gold: Sequence[str], k: int) -> bool:
    """Acc@k: every gold item is within the top k."""
    return bool(gold) and all(g in ranks and ranks[g] <= k for g in gold)


def load_cosqa(split: str = "dev") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus rows {id, code}, query rows {qid, query, gold_ids})."""
    corpus = [json.loads(x) for x in (COSQA_DIR / "corpus.jsonl").read_text().splitlines() if x]
    queries = [json.loads(x) for x in (COSQA_DIR / f"{split}_queries.jsonl").read_text().splitlines() if x]
    return corpus, queries


def run_bm25_baseline(mode: str) -> dict[str, Any]:
    """Run the reference BM25 (shared tool) on the same data; returns its summary JSON."""
    if mode == "swe":
        args = ["swe", "--jsonl", str(SWE_JSONL), "--mirrors", str(mirrors_dir())]
    else:
        args = ["cosqa", "--dir", str(COSQA_DIR)]
    proc = subprocess.run([sys.executable, str(BM25_TOOL), *args], check=True, capture_output=True,
                          text=True)
    text = proc.stdout.strip()
    if mode == "swe":
        return dict(json.loads(text))
    lines = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
    return next(x for x in lines if x.get("split") == "dev")


def machine() -> str:
    """nproc and CPU model, for result files."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}"


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q` quantile (0..1) of `values`: a value that was measured, not interpolated."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_average() -> str:
    """The 1/5/15-minute load averages (the benchmark box is shared: numbers are noisy)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and every live descendant (a server and its workers), so far."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += process_cpu_s(current)
        except (OSError, IndexError, ValueError):
            continue
        todo += children.get(current, [])
    return total


def changed_old_lines(patch: str) -> dict[str, set[int]]:
    """Per file of a unified diff, the old-file lines the fix changed.

    A removed or replaced line counts as itself; a pure insertion counts as the old line just
    above it (the first line when it inserts at the top), so a line added inside a function
    body names that function. Files the diff creates are left out (nothing to rank at base).
    """
    out: dict[str, set[int]] = {}
    path: str | None = None
    header = False  # between `diff --git` and the first `@@` (so a removed "-- x" line is no header)
    old = 0
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            path, header = line.split(" a/", 1)[1].split(" b/", 1)[0], True
        elif header and line.startswith("--- "):
            path = None if line == "--- /dev/null" else path
        elif line.startswith("@@") and path is not None:
            header, old = False, int(line.split()[1].lstrip("-").split(",")[0])
        elif header or path is None:
            continue
        elif line.startswith("-"):
            out.setdefault(path, set()).add(old)
            old += 1
        elif line.startswith("+"):
            out.setdefault(path, set()).add(max(old - 1, 1))
        elif line.startswith(" ") or line == "":
            old += 1
    return {p: ls for p, ls in out.items() if ls}


def gold_chunks(changed: Iterable[int], chunks: Sequence[tuple[str, int, int]]) -> list[str]:
    """Qualified names of the chunks (name, start, end) a fix touched: per changed line, the
    innermost chunk whose span holds it (a method rather than its class), in file order, each name
    once (overloads and a split module header share a name, and the name is the scoring key)."""
    names: set[str] = set()
    for line in changed:
        holding = [c for c in chunks if c[1] <= line <= c[2]]
        if holding:
            names.add(min(holding, key=lambda c: (c[2] - c[1], -c[1]))[0])
    return list(dict.fromkeys(c[0] for c in sorted(chunks, key=lambda c: c[1]) if c[0] in names))
