"""A local index holds the project's code and what was asked of it: it is the owner's alone
(issue 10, defect 11, for the CLI's indexes as well as the server's files)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from prism.config import Settings
from prism.engine import Prism


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what most shells give: files 0644, folders 0755
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_index_is_private_whatever_the_umask(tmp_path: Path, prism_home: Path, open_umask: None) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("def secret_sauce():\n    return 42\n")
    with Prism(repo, settings=Settings(home=prism_home, embedder="hashing")) as prism:
        prism.index()
        index_dir = prism.index_dir
    assert mode(index_dir) == 0o700
    assert mode(index_dir.parent) == 0o700  # PRISM_HOME/projects, made by PRISM
    databases = [p for p in index_dir.iterdir() if p.name.endswith((".db", ".db-wal", ".db-shm"))]
    assert any(p.name == "index.db" for p in databases)
    for path in databases:
        assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"
