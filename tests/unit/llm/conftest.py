"""Fixtures for the provider tests: a loopback fake of every provider and settings pointing at it.

The fake lives in tests/fakes/llm_server.py (pytest runs with --import-mode=importlib, so that
folder is put on sys.path here).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FAKES = str(Path(__file__).resolve().parents[2] / "fakes")
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

from llm_server import FakeProviders, fake_providers, settings_for  # noqa: E402

from prism.llm.settings import LLMSettings  # noqa: E402


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with fake_providers() as server:
        yield server


@pytest.fixture
def llm_settings(fake: FakeProviders) -> LLMSettings:
    return settings_for(fake)
