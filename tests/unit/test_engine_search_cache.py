"""Prism.search serves a repeated query from memory until the index or the feedback changes,
while stale flags are always read fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_only_json_context_runs_the_whole_file_bm25_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from prism.index import lookup

    started: list[str] = []
    original = lookup.FileRanking.__init__

    def counting(self: lookup.FileRanking, db_path: Path, query: str, limit: int = 300) -> None:
        started.append(query)
        original(self, db_path, query, limit)

    monkeypatch.setattr(lookup.FileRanking, "__init__", counting)
    with make(tmp_path) as prism:
        markdown = prism.context("refresh token", budget_tokens=500)
        assert started == [] and markdown.savings is not None
        assert markdown.savings.whole_files_tokens > 0 and markdown.savings.bm25_tokens is None
        as_json = prism.context("refresh token", budget_tokens=500, fmt="json")
        assert started == ["refresh token"]
        stated = json.loads(as_json.text)["savings"]
        assert stated["bm25_files"]["files"] >= 1 and stated["whole_files"]["tokens"] > 0


def test_context_is_counted_while_another_thread_is_mid_read(tmp_path: Path) -> None:
    """A usage write on the shared read connection failed at once ("database is locked") when a
    request thread was still reading and another process had written since: a 500 under load."""
    import sqlite3

    from prism.index.sqlite import SqliteStore

    insert = ("INSERT INTO usage(at, kind, intent, budget, tokens_served, tokens_saved, chunks, seconds)"
              " VALUES (0, 'context', 'search', 1, 1, 0, 1, 0.1)")
    with make(tmp_path) as prism:
        store = prism.store
        assert isinstance(store, SqliteStore)
        reading = store._conn.execute("SELECT id FROM chunks")
        reading.fetchone()  # the shared connection now holds a read snapshot
        other = sqlite3.connect(prism.index_dir / "index.db")
        other.execute(insert)
        other.commit()  # ... which another process has now moved past
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store._conn.execute(insert)  # a write on the shared connection fails at once
        prism.context("refresh token", budget_tokens=500)
        reading.close()
        other.close()
        assert store.usage_summary()["queries"] == 2

