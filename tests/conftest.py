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
