"""Prism.search serves a repeated query from memory until the index or the feedback changes,
while stale flags are always read fresh."""

from __future__ import annotations

from pathlib import Path

from prism.config import Settings
from prism.engine import Prism


def make(tmp_path: Path) -> Prism:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tokens.py").write_text("def refresh_token(session):\n    return session.token\n")
    (root / "billing.py").write_text("def charge(amount):\n    return amount\n")
    prism = Prism(root, settings=Settings(home=tmp_path / "home", embedder="hashing"))
    prism.index()
    return prism


def test_repeated_search_reuses_the_ranking_but_not_staleness(tmp_path: Path) -> None:
    with make(tmp_path) as prism:
        first = prism.search("refresh token")
        assert not first.warnings and not first.hits[0].stale
        calls = 0
        original = prism._searcher.search

        def counting(*args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            return original(*args, **kwargs)  # type: ignore[arg-type]

        prism._searcher.search = counting  # type: ignore[method-assign]
        second = prism.search("refresh token")
        assert calls == 0 and [h.chunk.id for h in second.hits] == [h.chunk.id for h in first.hits]

        (prism.root / "tokens.py").write_text("def refresh_token(session):\n    return None\n")
        assert prism.search("refresh token").hits[0].stale  # cached ranking, fresh flag
        assert calls == 0

        prism.index()
        assert not prism.search("refresh token").hits[0].stale
        assert calls == 1  # a write bumped the index generation

        prism.mark_helpful("billing.py", "charge")
        prism.search("refresh token")
        assert calls == 2  # feedback clears the cache
