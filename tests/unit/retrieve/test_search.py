"""Tests for prism.retrieve.search: ranking on chunk heads gives exactly what ranking on full
chunks gave, and only the hits returned are loaded in full.

The tree is this repository's `src/prism/retrieve` and `src/prism/pack` (a few hundred real
chunks, tests and docs beside them so the place prior has something to demote), indexed once
with the hashing embedder: searches run hybrid and lexical, short and issue-long (the long
ones take the primary-first pool), by chunk and by file, with filters and with feedback.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from prism.config import Settings
from prism.engine import Prism
from prism.index.sqlite import SqliteStore
from prism.models import ChunkHead, SearchFilters, StoredChunk
from prism.retrieve.search import SearchConfig, Searcher, SearchOutcome

SOURCE = Path(__file__).resolve().parents[3]
TREE = {"src/prism/retrieve": "retrieve", "src/prism/pack": "pack", "tests/unit/retrieve": "tests/retrieve"}
ISSUE = """Lexical search returns fixture files before the source when the issue is long

When I search with a long issue text that names `search_lexical` and `fuse_reciprocal_rank`, the
tests under tests/retrieve come first and retrieve/lexical.py only third. Steps:

    Traceback (most recent call last):
      File "retrieve/search.py", line 160, in search
        lexical = search_lexical(query, self.store, cfg.candidates * pool, filters,
      File "retrieve/lexical.py", line 210, in search_lexical
        raise ValueError("no terms")
    ValueError: no terms

Expected the BM25 ranking of lexical terms with identifier splitting, fused with dense cosine
similarity and path proximity, to put the source first; the place prior should demote tests.
""" * 3
QUERIES = ("fuse reciprocal rank", "where is the token budget enforced", "degrade a chunk to its signature",
           "PathTable", "how are query terms weighted by idf", ISSUE)
LIMITS = (1, 10, 50)


class FullRowStore(SqliteStore):
    """The path before heads: ranking reads full chunks (refs decoded, text loaded)."""

    def get_heads(self, ids: Sequence[int]) -> list[ChunkHead]:
        return [sc.head for sc in self.get_chunks(ids)]


class CountingStore(SqliteStore):
    """Records which ids were loaded in full."""

    loaded: list[int]

    def get_chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        self.loaded.extend(ids)
        return super().get_chunks(ids)


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prism]:
    folder = tmp_path_factory.mktemp("heads")
    for source, target in TREE.items():
        shutil.copytree(SOURCE / source, folder / "tree" / target, ignore=shutil.ignore_patterns("__pycache__"))
    engine = Prism(folder / "tree", settings=Settings(home=folder / "home", embedder="hashing"))
    engine.index()
    engine.mark_helpful("pack/degrade.py", "")  # the feedback feature has a mark to read
    yield engine
    engine.close()


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recency reads the clock: two searches compared must read the same time."""
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)


def searchers(prism: Prism) -> tuple[Searcher, Searcher, CountingStore]:
    path = prism.store.path  # type: ignore[attr-defined]
    counting = CountingStore(path)
    counting.loaded = []
    return (Searcher(FullRowStore(path), prism._query_embedder),
            Searcher(counting, prism._query_embedder), counting)


def ranking(outcome: SearchOutcome) -> list[tuple[int, float, dict[str, float], StoredChunk]]:
    return [(r.chunk.id, r.score, r.explain, r.chunk) for r in outcome.results]


@pytest.mark.parametrize("files", [False, True])
@pytest.mark.parametrize("dense", [True, False])
def test_heads_rank_exactly_as_full_chunks_did(prism: Prism, files: bool, dense: bool) -> None:
    old, new, counting = searchers(prism)
    config = replace(SearchConfig(), dense=dense)
    seen = 0
    for query in QUERIES:
        for limit in LIMITS:
            counting.loaded.clear()
            want = old.search(query, limit=limit, files=files, config=config)
            got = new.search(query, limit=limit, files=files, config=config)
            assert ranking(got) == ranking(want), (query, limit)  # ids, order, scores, breakdowns, chunks
            assert sorted(counting.loaded) == sorted(r.chunk.id for r in got.results)  # hits only
            seen += len(got.results)
    assert seen > 100
    issue = new.search(ISSUE, limit=100, config=config).results
    assert {"path", "frame"} <= {k for r in issue for k in r.explain}  # those paths ran
    # Tests have no vectors (vector_scope): in a hybrid issue search the demoted tests/ chunks
    # enter by lexical score alone, below the pool's cut, so the prior is seen in lexical mode.
    lexical = new.search(ISSUE, limit=100, config=replace(config, dense=False)).results
    assert "prior" in {k for r in lexical for k in r.explain}


@pytest.mark.parametrize("filters", [
    SearchFilters(scope="code"), SearchFilters(scope="tests"), SearchFilters(path="pack/"),
    SearchFilters(kinds=("function",), min_score=0.3)])
def test_heads_rank_filtered_searches_as_full_chunks_did(prism: Prism, filters: SearchFilters) -> None:
    old, new, _ = searchers(prism)
    for query in QUERIES:
        want = old.search(query, limit=20, filters=filters)
        assert ranking(new.search(query, limit=20, filters=filters)) == ranking(want)


def test_dense_runs_for_questions_and_not_for_issue_texts_that_name_the_code(prism: Prism) -> None:
    searcher = Searcher(prism.store, prism._query_embedder)

    def dense_parts(query: str, config: SearchConfig) -> int:
        return sum("dense" in r.explain for r in searcher.search(query, limit=50, config=config).results)

    routed, everywhere = replace(SearchConfig(), route_dense=True), SearchConfig()
    assert dense_parts(ISSUE, routed) == 0  # identifiers, paths, a traceback: lexical and exact only
    assert dense_parts(ISSUE, everywhere) > 0
    assert dense_parts("where is the token budget enforced", routed) > 0


def test_questions_fuse_dense_and_lexical_by_score_not_rank(prism: Prism) -> None:
    searcher = Searcher(prism.store, prism._query_embedder)
    w = SearchConfig().weights
    unit = 1.0 / (w.rrf_k + 1.0)
    question = "where is the token budget enforced"

    def shares(config: SearchConfig, name: str) -> list[float]:
        explain = searcher.candidates(question, config=config).explain
        return [parts[name] for parts in explain.values() if name in parts]

    by_score = SearchConfig()
    # The best cosine is worth what first place in the dense ranking was; lexical a tenth of that.
    assert max(shares(by_score, "dense")) == pytest.approx(w.dense_nl * unit)
    assert max(shares(by_score, "lexical")) <= w.lexical_nl * w.dense_nl * unit + 1e-12
    assert len(set(shares(by_score, "dense"))) > 10  # cosines, not a rank ladder
    by_rank = replace(SearchConfig(), question_fusion="rank")
    assert max(shares(by_rank, "lexical")) == pytest.approx(w.lexical * unit)


class HeadCountingStore(SqliteStore):
    """Records which ids were read as heads from the database."""

    heads_read: list[int]

    def get_heads(self, ids: Sequence[int]) -> list[ChunkHead]:
        self.heads_read.extend(ids)
        return super().get_heads(ids)


def test_heads_are_read_once_per_index_generation(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    source = ("def parse_alpha(text):\n    return text.split()\n\n\n"
              "def render_alpha(items):\n    return ' '.join(items)\n")
    (tree / "alpha.py").write_text(source)
    engine = Prism(tree, settings=Settings(home=tmp_path / "home", embedder="hashing"))
    try:
        engine.index()
        store = HeadCountingStore(engine.store.path)  # type: ignore[attr-defined]
        store.heads_read = []
        searcher = Searcher(store)
        first = searcher.search("parse alpha", limit=5)
        assert first.results and store.heads_read
        store.heads_read.clear()
        assert ranking(searcher.search("parse alpha", limit=5)) == ranking(first)
        assert store.heads_read == []  # the same generation: every head came from the cache
        (tree / "alpha.py").write_text("\n\n\n" + source)  # every chunk moves three lines down
        engine.index()
        moved = searcher.search("parse alpha", limit=5)
        assert store.heads_read  # a new generation reads its heads afresh
        assert [r.chunk.chunk.start_line for r in moved.results] == \
            [r.chunk.chunk.start_line + 3 for r in first.results]
        store.close()
    finally:
        engine.close()


def test_question_cosines_discount_hubs_and_issue_texts_keep_theirs(prism: Prism) -> None:
    searcher = Searcher(prism.store, prism._query_embedder)
    plain = replace(SearchConfig(), hubness=False)

    def dense_shares(query: str, config: SearchConfig) -> dict[int, float]:
        explain = searcher.candidates(query, config=config).explain
        return {cid: parts["dense"] for cid, parts in explain.items() if "dense" in parts}

    question = "where is the token budget enforced"
    on, off = dense_shares(question, SearchConfig()), dense_shares(question, plain)
    assert on.keys() == off.keys() and on != off  # same candidates, hub-discounted cosines
    w = SearchConfig().weights
    assert max(on.values()) == pytest.approx(w.dense_nl / (w.rrf_k + 1.0))  # the best still leads
    assert dense_shares(ISSUE, SearchConfig()) == dense_shares(ISSUE, plain)  # issue texts: ranks


def test_hub_neighbourhoods_outlive_a_small_edit_and_follow_a_large_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import prism.retrieve.search as search_module

    computed: list[int] = []

    def counting(store: object, model: str) -> dict[int, float]:
        hubs = chunk_neighbourhoods(store, model)  # type: ignore[arg-type]
        computed.append(len(hubs))
        return hubs

    chunk_neighbourhoods = search_module.chunk_neighbourhoods
    monkeypatch.setattr(search_module, "chunk_neighbourhoods", counting)
    tree = tmp_path / "tree"
    tree.mkdir()

    def write(i: int, version: int) -> None:
        (tree / f"mod{i}.py").write_text(f"def parse_{i}_v{version}(text):\n    return text.split({i})\n\n\n"
                                         f"def render_{i}_v{version}(items):\n    return ','.join(items[{i}:])\n")

    for i in range(10):
        write(i, 0)
    engine = Prism(tree, settings=Settings(home=tmp_path / "home", embedder="hashing"))
    try:
        engine.index()
        searcher = Searcher(engine.store, engine._query_embedder)
        question = "how do we parse the text into items"
        assert searcher.search(question, limit=5).results
        assert len(computed) == 1 and computed[0] == 20
        write(10, 0)  # one new file: 2 of 22 candidates unseen, under STALE_SHARE
        engine.index()
        assert searcher.search(question, limit=5).results
        assert len(computed) == 1  # the edit did not stall the question on a recompute
        for i in range(8):  # most of the project rewritten: most candidates are new chunks
            write(i, 1)
        engine.index()
        assert searcher.search(question, limit=5).results
        assert computed == [20, 22]
    finally:
        engine.close()
