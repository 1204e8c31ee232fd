"""Tests for prism.retrieve.dense: query windows embedded and handed to the store's nearest search,
and the embedded store's brute-force ranking on one BLAS thread."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from threadpoolctl import threadpool_info

from prism.cache import MemoryCache
from prism.index.embed import HashingEmbedder
from prism.index.sqlite_vectors import best_similarities
from prism.models import SearchFilters
from prism.retrieve.dense import WINDOW_CHARS, run_beside, search_dense
from prism.retrieve.query import parse_query


class _Vectors:
    """A store that answers nearest() by brute force over a fixed matrix, as SqliteStore does."""

    def __init__(self, ids: list[int], matrix: np.ndarray) -> None:
        self.ids, self.matrix = np.asarray(ids, dtype=np.int64), matrix
        self.asked: list[tuple[str, tuple[int, ...], SearchFilters | None]] = []

    def nearest(
        self, model: str, queries: np.ndarray, limit: int, filters: SearchFilters | None = None
    ) -> list[tuple[int, float]]:
        self.asked.append((model, queries.shape, filters))
        return best_similarities(self.ids, self.matrix, queries, limit)


def test_ranks_by_cosine_and_hands_the_filters_to_the_store() -> None:
    embedder = HashingEmbedder()
    texts = ["parse the sql dialect keywords", "solar position azimuth angle", "refresh an access token"]
    store = _Vectors([10, 20, 30], embedder.embed_documents(texts))
    only_python = SearchFilters(languages=("python",))
    ranked = search_dense(parse_query("refresh the access token"), embedder, store, limit=3, filters=only_python)
    assert ranked[0][0] == 30 and [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert store.asked == [(embedder.model_id, (1, embedder.dim), only_python)]
    assert all(info["num_threads"] == 1 for info in threadpool_info() if info["user_api"] == "blas")


def test_brute_force_respects_allowed_ids() -> None:
    embedder = HashingEmbedder()
    texts = ["parse the sql dialect keywords", "solar position azimuth angle", "refresh an access token"]
    matrix = embedder.embed_documents(texts)
    query = embedder.embed_query("refresh the access token")[None, :]
    ids = np.asarray([10, 20, 30], dtype=np.int64)
    only = best_similarities(ids, matrix, query, limit=3, allowed=[10, 20])
    assert {cid for cid, _ in only} == {10, 20}
    assert best_similarities(ids[:0], matrix[:0], query, limit=3) == []


class _Counting(HashingEmbedder):
    """The real hashing embedder, counting the calls dense retrieval makes to it."""

    model_id = "hashing-256@1-counted"  # its own cache entries: no other test's vectors

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_queries(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        return super().embed_queries(texts)


def test_a_long_query_is_its_opening_in_one_model_call_and_a_repeated_one_none() -> None:
    embedder = _Counting()
    texts = ["parse the sql dialect keywords", "solar position azimuth angle", "refresh an access token"]
    store = _Vectors([10, 20, 30], embedder.embed_documents(texts))
    issue = (
        "Refreshing the access token fails\n"
        + "the session expires early. " * 80
        + '\nTraceback (most recent call last):\n  File "auth.py", line 3\nTokenError: expired\n'
        + "more words " * 120
    )
    cache = MemoryCache()
    first = search_dense(parse_query(issue), embedder, store, limit=3, cache=cache)
    assert embedder.calls == [[issue[:WINDOW_CHARS]]]  # the opening, not the traceback further down
    assert store.asked[-1][1] == (1, embedder.dim)
    assert search_dense(parse_query(issue), embedder, store, limit=3, cache=cache) == first
    assert len(embedder.calls) == 1  # asked again: its vector from the cache
    search_dense(parse_query("refresh the access token"), embedder, store, limit=3, cache=cache)
    assert embedder.calls[1:] == [["refresh the access token"]]
    search_dense(parse_query("refresh the access token"), embedder, store, limit=3)
    assert len(embedder.calls) == 3  # without a cache every search embeds its query


def test_batched_query_vectors_equal_one_at_a_time() -> None:
    embedder = HashingEmbedder()
    texts = ["refresh the access token", "solar azimuth"]
    np.testing.assert_allclose(embedder.embed_queries(texts), np.stack([embedder.embed_query(t) for t in texts]))


def test_a_stage_run_beside_gives_its_result_on_another_thread_or_inline() -> None:
    caller = threading.get_ident()
    result, ms = run_beside(threading.get_ident).result()
    assert result != caller and ms >= 0.0  # a worker thread ran it
    assert run_beside(threading.get_ident, concurrent=False).result()[0] == caller

    def fails() -> None:
        raise ValueError("model broke")

    for concurrent in (True, False):  # a failure comes back where the result is read
        with pytest.raises(ValueError, match="model broke"):
            run_beside(fails, concurrent=concurrent).result()
