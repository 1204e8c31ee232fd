"""Time from `prism mcp` start to the first useful answer, cold (no index) and warm (index on disk).

    .venv/bin/python benchmarks/mcp_first_answer.py --path /tmp/bench/sqlfluff \\
        --query "Linter lint_string parse SQL and return violations" \\
        --expect src/sqlfluff/core/linter/linter.py [--record]

Export the repository first, e.g.
`git -C /work/.mirror/sqlfluff+sqlfluff/repo archive HEAD | tar -x -C /tmp/bench/sqlfluff`.
The server is spawned exactly as Claude Code does (stdio, cwd = the project) and driven by the
official MCP SDK client. Cold: a fresh PRISM_HOME, so the server indexes in the background
while `search_code` is polled every 0.25 s; "first useful answer" is the first result that
names the expected file. Warm: the same PRISM_HOME after the cold run's index is complete.
Reported with the index_status at that moment (how much of the repository was searchable).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from prism.pack.tokens import get_tokenizer

RESULTS = Path(__file__).parent / "results" / "mcp_first_answer.md"
POLL_S = 0.25


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPUs ({cpu}), {system}, Python {platform.python_version()}"


def repo_tokens(path: Path) -> tuple[int, int]:
    """(files, cl100k tokens) of what PRISM indexes in `path` (the walker's view)."""
    from prism.ingest.walk import WalkOptions, read_source, walk

    tok = get_tokenizer("cl100k_base")
    files = tokens = 0
    for source in walk(path, WalkOptions()):
        try:
            _, text = read_source(path, source.path)
        except Exception:
            continue
        files += 1
        tokens += tok.count(text)
    return files, tokens


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if getattr(b, "type", "") == "text")


async def session(path: Path, home: Path, query: str, expect: str, wait_full: bool,
                  timeout_s: float) -> dict[str, Any]:
    env = dict(os.environ, PRISM_HOME=str(home))
    params = StdioServerParameters(command=sys.executable, args=["-m", "prism", "mcp"],
                                   cwd=str(path), env=env)
    out: dict[str, Any] = {}
    started = time.perf_counter()
    async with Client(params, mode="legacy") as client:
        out["initialized_s"] = time.perf_counter() - started
        first_any = None
        while time.perf_counter() - started < timeout_s:
            result = await client.call_tool("search_code", {"query": query, "max_tokens": 1500})
            text = "" if result.is_error else text_of(result)
            now = time.perf_counter() - started
            if first_any is None and text and not text.startswith("0 results"):
                first_any = now
            if expect in text:
                out["first_useful_s"] = now
                out["answer_head"] = text.splitlines()[:3]
                break
            await anyio.sleep(POLL_S)
        out["first_any_s"] = first_any
        status = json.loads(text_of(await client.call_tool("index_status", {})))["projects"][0]
        out["status_at_answer"] = {k: status.get(k) for k in ("files", "chunks", "tokens", "pending_embeddings")}
        out["status_at_answer"]["phase"] = (status.get("background") or {}).get("phase")
        if wait_full:
            while time.perf_counter() - started < timeout_s * 20:
                status = json.loads(text_of(await client.call_tool("index_status", {})))["projects"][0]
                if (status.get("background") or {}).get("syncs", 0) >= 1:
                    out["searchable_s"] = time.perf_counter() - started
                    out["full"] = {k: status.get(k) for k in ("files", "chunks", "tokens")}
                    break
                await anyio.sleep(1.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--query", required=True)
    parser.add_argument("--expect", required=True, help="A path the answer must name.")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--record", action="store_true", help=f"Append the result to {RESULTS}.")
    args = parser.parse_args()
    path = args.path.resolve()
    files, tokens = repo_tokens(path)
    print(f"{path}: {files} files, {tokens:,} tokens", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="prism-mcp-bench-") as tmp:
        home = Path(tmp)
        cold = anyio.run(session, path, home, args.query, args.expect, True, args.timeout)
        print("cold", json.dumps(cold), file=sys.stderr)
        warm = anyio.run(session, path, home, args.query, args.expect, False, args.timeout)
        print("warm", json.dumps(warm), file=sys.stderr)
    report = render(path, files, tokens, args, cold, warm)
    print(report)
    if args.record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(report + "\n")


def _s(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, float) else "—"


def render(path: Path, files: int, tokens: int, args: argparse.Namespace,
           cold: dict[str, Any], warm: dict[str, Any]) -> str:
    embedder = os.environ.get("PRISM_EMBEDDER", "minilm")
    at = cold.get("status_at_answer", {})
    lines = [
        f"## {path.name} — {time.strftime('%Y-%m-%d %H:%M')} — {machine()}",
        "",
        f"Load average at the end (the machine is shared): {Path('/proc/loadavg').read_text().split()[:3]}.",
        f"Repository: {files:,} indexable files, {tokens:,} tokens (cl100k). Embedder: {embedder}.",
        f"Query: `{args.query}`; useful = the answer names `{args.expect}`.",
        "",
        "| run | initialize | first non-empty answer | first useful answer | index at that moment |",
        "|---|---|---|---|---|",
        f"| cold (no index) | {_s(cold.get('initialized_s'))} | {_s(cold.get('first_any_s'))} | "
        f"{_s(cold.get('first_useful_s'))} | {at.get('files')} files, {at.get('chunks')} chunks "
        f"({at.get('phase')}) |",
        f"| warm (index on disk) | {_s(warm.get('initialized_s'))} | {_s(warm.get('first_any_s'))} | "
        f"{_s(warm.get('first_useful_s'))} | {warm.get('status_at_answer', {}).get('files')} files |",
        "",
        f"Cold: whole repository lexically searchable after {_s(cold.get('searchable_s'))} "
        f"({(cold.get('full') or {}).get('chunks')} chunks); vectors fill in after that in the background.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
