"""Probe rows from a repository's own fix commits: the commit message → the code files it changed.

    python benchmarks/commit_rows.py jesseduffield/lazygit:Go:14 BurntSushi/toml:Go:8:100 \
        tmux/tmux:C:8:120 > /tmp/rows.jsonl
    PRISM_EVAL_MIRRORS=/work/.mirror python benchmarks/multiswe_eval.py --jsonl /tmp/rows.jsonl

Each argument is OWNER/NAME:LANGUAGE:ROWS[:MIN_MESSAGE_CHARS] over the `fetch` mirror
`$PRISM_EVAL_MIRRORS/OWNER+NAME/repo`. A row is a first-parent, non-merge commit whose message
says "fix", is at least MIN_MESSAGE_CHARS long (150) and that modifies 1–3 non-test code files
of the language and adds none; newest first. The schema is `multiswe_dev.jsonl`'s, so
`multiswe_eval.py` runs it, gold functions included.

A commit message is not an issue: it is written after the fix, often names its package or
file, and says what changed rather than what went wrong. Read the numbers as a per-language
check on projects outside the dev sets (a language far below BM25 here is a lead), never as
a score to tune on. The rows are built on demand and not committed: patches are fetched code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

EXTENSIONS = {"Go": (".go",), "C": (".c", ".h"), "C++": (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".h"),
              "Rust": (".rs",), "Java": (".java",), "JavaScript": (".js", ".mjs", ".cjs"),
              "TypeScript": (".ts", ".tsx")}
TEST_PATH = re.compile(r"(_test\.go$|\.(test|spec)\.|(^|/)(tests?|testdata|__tests__|spec|integration)/)")
TRAILER = re.compile(r"^(Signed-off-by|Co-authored-by|Reviewed-by|Fixes|Closes):", re.I)
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\S+ @@ ?(.*)$", re.M)


def git(mirror: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(mirror), *args], capture_output=True, text=True,
                          errors="replace", check=True).stdout


def rows(mirror: Path, repo: str, language: str, limit: int, min_chars: int = 150) -> list[dict[str, Any]]:
    extensions = EXTENSIONS[language]
    found: list[dict[str, Any]] = []
    log = git(mirror, "log", "--first-parent", "--no-merges", "--format=%H%x00%P%x00%B%x1e", "HEAD")
    for record in log.split("\x1e"):
        parts = record.strip("\n").split("\x00")
        if len(parts) < 3:
            continue
        sha, parents, message = parts[0].strip(), parts[1].split(), parts[2].strip()
        if len(parents) != 1 or len(message) < min_chars or not re.search(r"\bfix", message, re.I):
            continue
        changes = [line.split("\t") for line in git(mirror, "diff", "--name-status", parents[0], sha).splitlines()]
        code = [c for c in changes if c[-1].endswith(extensions) and not c[-1].startswith("vendor/")
                and not TEST_PATH.search(c[-1])]
        modified = [c[1] for c in code if c[0] == "M"]
        if not 1 <= len(modified) <= 3 or any(c[0] != "M" for c in code):
            continue
        patch = git(mirror, "diff", parents[0], sha, "--", *modified)
        hunks = [{"file": path, "old_start": int(m[1]), "old_len": int(m[2] or 1), "header": m[3]}
                 for path in modified for m in HUNK.finditer(git(mirror, "diff", "-U0", parents[0], sha, "--", path))]
        query = "\n".join(line for line in message.splitlines() if not TRAILER.match(line)).strip()
        found.append({"instance_id": f"{repo.replace('/', '__')}-{sha[:8]}", "repo": repo, "language": language,
                      "base_commit": parents[0], "problem_statement": query, "patch": patch,
                      "gold_files": modified, "gold_added_files": [], "gold_hunks": hunks,
                      "base_available": True, "fix_commit": sha})
        if len(found) >= limit:
            break
    return found


def main() -> None:
    mirrors = Path(os.environ.get("PRISM_EVAL_MIRRORS", "/work/.mirror"))
    for spec in sys.argv[1:]:
        repo, language, limit, *rest = spec.split(":")
        mirror = mirrors / repo.replace("/", "+") / "repo"
        for row in rows(mirror, repo, language, int(limit), *(int(r) for r in rest)):
            print(json.dumps(row))


if __name__ == "__main__":
    main()
