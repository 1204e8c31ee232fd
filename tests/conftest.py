"""Test-wide isolation: every test gets its own PRISM_HOME and the fast hashing embedder.

The real PostgreSQL and Redis servers (`postgres_url`, `redis_url`) start once per session, on
first use; tests/services.py says where they come from and when a missing one skips or fails.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:  # --import-mode=importlib: make tests/services.py importable
    sys.path.insert(0, str(Path(__file__).parent))

from services import service_url


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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """postgresql:// URL of a real PostgreSQL 16 with pgvector, shared by the session.

    Its data folder is outside pytest's temp root: as root the server runs as another user, and
    pytest resets its root to mode 0700 whenever another session starts, locking that user out.
    """
    folder = Path(tempfile.mkdtemp(prefix="prism-test-pg-"))
    try:
        with service_url("postgres", "PRISM_TEST_DATABASE_URL", folder) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """redis:// URL of a real Redis server, shared by the session (tests use their own key prefixes)."""
    with service_url("redis", "PRISM_TEST_REDIS_URL", tmp_path_factory.mktemp("redis")) as url:
        yield url
