"""A read-only PRISM_HOME: `prism index` says so; status, search, context and show read the index anyway.

The home is made read-only for real: without write permission for an ordinary user, or, as
root (whom permissions do not stop), through a read-only bind mount in a private mount namespace.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = "def refresh_token(user):\n    '''Refresh the access token.'''\n    return user.token + 1\n"


def prism(home: Path, *args: str, read_only: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "prism", *args]
    if read_only and os.geteuid() == 0:
        command = ["unshare", "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(home),
                   *command]
    env = {**os.environ, "PRISM_HOME": str(home), "PRISM_EMBEDDER": "hashing"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def indexed(prism_home: Path, tmp_path: Path) -> Iterator[Path]:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(APP)
    assert prism(prism_home, "index", str(repo)).returncode == 0
    if os.geteuid() == 0:
        probe = prism(prism_home, "projects", read_only=True)
        if shutil.which("unshare") is None or probe.returncode != 0:
            pytest.skip(f"cannot make a read-only mount here: {probe.stderr[-300:]}")
        yield repo
        return
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in [prism_home, *prism_home.rglob("*")]}
    for path, mode in modes.items():
        path.chmod(mode & ~0o222)
    try:
        yield repo
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def test_index_says_the_home_is_not_writable(prism_home: Path, indexed: Path) -> None:
    (indexed / "new.py").write_text("X = 1\n")
    result = prism(prism_home, "index", str(indexed), read_only=True)
    assert result.returncode == 1, result.stderr
    assert "cannot write" in result.stderr and "writable PRISM_HOME" in result.stderr
    assert "Internal error" not in result.stderr and "bug" not in result.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (("status", "--project", "{repo}"), "files"),
    (("search", "refresh token", "--project", "{repo}"), "refresh_token"),
    (("context", "refresh token", "--project", "{repo}"), "return user.token + 1"),
    (("show", "app.py", "--project", "{repo}"), "return user.token + 1"),
])
def test_read_commands_work_from_a_read_only_home(prism_home: Path, indexed: Path, args: tuple[str, ...],
                                                  expected: str) -> None:
    result = prism(prism_home, *(a.format(repo=indexed) for a in args), read_only=True)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "forget" not in result.stdout + result.stderr  # never advise destroying a good index
