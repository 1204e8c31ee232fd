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
