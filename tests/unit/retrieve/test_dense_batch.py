"""Concurrent dense searches share one run and each gets the answer it gets alone."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from prism.index.sqlite_vectors import SCAN_BLOCK_ROWS, best_similarities, best_similarities_many
from prism.retrieve.dense_batch import Coalescer


def test_one_scan_for_several_searches_equals_each_search_alone() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((3 * SCAN_BLOCK_ROWS + 77, 64)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = np.arange(len(matrix), dtype=np.int64) * 10
    searches = [(rng.standard_normal((windows, 64)).astype(np.float32), limit, allowed)
                for windows, limit, allowed in [(1, 5, None), (3, 20, None), (1, 7, {10, 20, 30_000}), (2, 1, None)]]
    together = best_similarities_many(ids, matrix, searches)
    for (queries, limit, allowed), found in zip(searches, together, strict=True):
        sims = matrix @ queries.T  # the unblocked product, as a single search ran it before batching
        best = sims.max(axis=1)
        order = [int(i) for i in np.argsort(-best, kind="stable")
                 if allowed is None or int(ids[i]) in allowed][:limit]
        assert found == [(int(ids[i]), float(best[i])) for i in order]
        assert best_similarities(ids, matrix, queries, limit, allowed) == found


def test_calls_that_overlap_run_as_one_batch_and_a_lone_call_runs_at_once() -> None:
    batches: list[list[int]] = []
    first_running = threading.Event()
    release = threading.Event()

    def run(items: list[int]) -> list[int]:
        batches.append(items)
        if items == [0]:  # the leader of the first batch holds it until the others queue up
            first_running.set()
            release.wait(5)
        return [i * i for i in items]

    coalescer: Coalescer[int, int] = Coalescer(run)
    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, coalescer.submit(i))) for i in range(6)]
    threads[0].start()
    assert first_running.wait(5)
    for t in threads[1:]:
        t.start()
    time.sleep(0.2)  # the five others are waiting behind the running batch
    release.set()
    for t in threads:
        t.join(5)
    assert results == {i: i * i for i in range(6)}
    assert batches[0] == [0] and sorted(batches[1]) == [1, 2, 3, 4, 5] and len(batches) == 2
    assert coalescer.submit(7) == 49 and batches[-1] == [7]


def test_a_failing_batch_fails_every_call_in_it() -> None:
    def run(items: list[int]) -> list[int]:
        raise RuntimeError("model failed")

    coalescer: Coalescer[int, int] = Coalescer(run)
    with pytest.raises(RuntimeError, match="model failed"):
        coalescer.submit(1)
    with pytest.raises(RuntimeError, match="model failed"):  # the next call leads a fresh batch
        coalescer.submit(2)
