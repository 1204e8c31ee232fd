"""Test-wide isolation: every test gets its own PRISM_HOME and the fast hashing embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def prism_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh PRISM home per test; the hashing embedder unless a test asks for MiniLM."""
    home = tmp_path_factory.mktemp("prism-home")
    monkeypatch.setenv("PRISM_HOME", str(home))
    monkeypatch.setenv("PRISM_EMBEDDER", "hashing")
    yield home



Hostile = tuple[Path, tuple[str, ...], tuple[str, ...]]  # root, refused reads, secrets
HOSTILE_REFUSED = ("weird/outside/shadow:1-3", "zero.py:1-3", "pipe.py:1-3", ".env:1-3", "alias.py:1-3",
                   ".git/config:1-3", "stuff/config:1-3", "big.py:1-3", "blob.py:1-3")
HOSTILE_SECRETS = ("secret-shadow", "secret-env", "secret-git-config", "secret-big", "secret-blob")


@pytest.fixture
def hostile_repo(tmp_path: Path) -> Hostile:
    """A cloned repository that tries to make a reader serve what indexing leaves out: links out
    of the root and to /dev/zero, a FIFO, a gitignored .env and .git/config (and in-root links to
    them), a file over the size limit and a binary one; src/app.py is ordinary. Every read
    in the refused list must be refused, and no secret may appear in any answer."""
    import os

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow").write_text("root:secret-shadow:19000\n")
    root = tmp_path / "hostile"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[remote]\n  url = https://secret-git-config@example\n")
    (root / "src" / "app.py").write_text("def served():\n    return 'fine'\n")
    (root / ".gitignore").write_text(".env\n")
    (root / ".env").write_text("API_KEY=secret-env\n")
    (root / "weird").mkdir()
    os.symlink(outside, root / "weird" / "outside")
    os.symlink("/dev/zero", root / "zero.py")
    os.symlink(".env", root / "alias.py")
    os.symlink(".git", root / "stuff")
    os.mkfifo(root / "pipe.py")
    (root / "big.py").write_text("# secret-big\n" + "x = 1\n" * 200_000)  # over the 1 MiB limit
    (root / "blob.py").write_bytes(b"# secret-blob\n\0\n")
    return root, HOSTILE_REFUSED, HOSTILE_SECRETS
