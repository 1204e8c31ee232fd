"""Python processes that start in step: each prints `ready`, waits for `go` on stdin, then prints
one JSON object; for tests that need several processes to contend at the same moment."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any


def run_in_step(script: str, args: Sequence[str], processes: int, timeout_s: float = 60) -> list[dict[str, Any]]:
    """Run `processes` copies of `script` with `args`, release them together, and return each one's
    JSON answer; every process must exit 0."""
    procs = [subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(proc.communicate(timeout=timeout_s)[0]) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0] * processes
    return results
