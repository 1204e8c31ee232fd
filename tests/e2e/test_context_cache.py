"""Prism's context result cache: a repeated request is served from memory until the index changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism.config import Settings
from prism.engine import Prism


@pytest.fixture
def prism(tmp_path: Path) -> Prism:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tokens.py").write_text(
        "def refresh_token(session):\n    \"\"\"Refresh the token when it expires.\"\"\"\n    return session.token\n")
    (root / "billing.py").write_text("".join(f"def charge_{i}(amount):\n    return amount * {i}\n\n\n"
                                             for i in range(20)))
    (root / "README.md").write_text("# App\n\nSessions and billing.\n")
    engine = Prism(root, settings=Settings(home=tmp_path / "home", embed=False))
    engine.index(embed=False)
    return engine


def test_repeated_context_is_served_from_cache_until_reindex(prism: Prism) -> None:
    first = prism.context("refresh token", budget_tokens=500, record_usage=False)
    assert prism.context("refresh token", budget_tokens=500, record_usage=False) is first
    assert prism.context("refresh token", budget_tokens=600, record_usage=False) is not first
    assert prism.context("refresh token", budget_tokens=500, fmt="json", record_usage=False) is not first
    (prism.root / "tokens.py").write_text("def refresh_token(session):\n    return None\n")
    prism.index(embed=False)
    again = prism.context("refresh token", budget_tokens=500, record_usage=False)
    assert again is not first and "return None" in again.text
    prism.close()


def test_cache_hits_still_count_as_usage(prism: Prism) -> None:
    prism.context("refresh token", budget_tokens=500)
    prism.context("refresh token", budget_tokens=500)
    assert prism.store.usage_summary()["queries"] == 2
    prism.close()
