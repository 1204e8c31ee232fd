"""Concurrent dense searches of one process share one model call and one pass over the vectors.

A server runs several searches at once (request threads); each embeds its query and streams
the whole vector matrix through the CPU (memory-bound: ~10 ms for 100 k × 384 float32). Here
the first search to arrive runs at once, as the leader; searches that arrive while it runs
wait and then go together: their windows are embedded in one model call, and the matrix is
scanned once for all of them (`sqlite_vectors.best_similarities_many`). A search alone never
waits, and each gets exactly the answer it gets alone (same kernels, same order of sums).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from prism.cache import Cache
from prism.models import SearchFilters
from prism.retrieve.dense import NearestStore, QueryEmbedder, query_vectors

MAX_BATCH = 16  # searches per shared run; beyond this the leader's own wait grows for little gain

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Slot(Generic[T, R]):
    item: T
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


@dataclass
class Coalescer(Generic[T, R]):
    """Calls that overlap in time run as one batch: `run` maps a list of items to their results."""

    run: Callable[[list[T]], list[R]]
    max_batch: int = MAX_BATCH
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _waiting: list[_Slot[T, R]] = field(default_factory=list)
    _busy: bool = False

    def submit(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        with self._cond:
            self._waiting.append(slot)
            while not slot.done and self._busy:
                self._cond.wait()
            if slot.done:
                return self._outcome(slot)
            self._busy = True  # this thread leads: it runs every search waiting now
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch:]
        try:
            results = self.run([s.item for s in batch])
            for s, result in zip(batch, results, strict=True):
                s.result = result
        except BaseException as exc:  # every search of the batch reports the failure, as alone
            for s in batch:
                s.error = exc
        with self._cond:
            for s in batch:
                s.done = True
            self._busy = False
            self._cond.notify_all()
        return self._outcome(slot)

    @staticmethod
    def _outcome(slot: _Slot[T, R]) -> R:
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None
        return slot.result


@dataclass(frozen=True)
class DenseRequest:
    windows: tuple[str, ...]
    limit: int
    filters: SearchFilters | None


class DenseBatcher:
    """The dense stage of one searcher, shared by the threads searching through it."""

    def __init__(self, store: NearestStore, cache: Cache | None) -> None:
        self.store = store
        self.cache = cache
        self._coalescer: Coalescer[tuple[QueryEmbedder, DenseRequest], list[tuple[int, float]]] = \
            Coalescer(self._run)

    def search(self, embedder: QueryEmbedder, windows: Sequence[str], limit: int,
               filters: SearchFilters | None) -> list[tuple[int, float]]:
        """(chunk id, cosine) best first, as `search_dense` finds them, in a batch with concurrent searches."""
        return self._coalescer.submit((embedder, DenseRequest(tuple(windows), limit, filters)))

    def _run(self, batch: list[tuple[QueryEmbedder, DenseRequest]]) -> list[list[tuple[int, float]]]:
        import numpy as np

        embedder = batch[0][0]
        if any(e is not embedder for e, _ in batch):  # a model reloaded meanwhile: one at a time
            return [self._run([item])[0] for item in batch]
        texts = [w for _, request in batch for w in request.windows]
        vectors = query_vectors(embedder, texts, self.cache)  # one model call for what is not cached
        searches, start = [], 0
        for _, request in batch:
            searches.append((np.stack(vectors[start:start + len(request.windows)]), request.limit,
                             request.filters))
            start += len(request.windows)
        nearest_many = getattr(self.store, "nearest_many", None)  # SqliteStore: one scan for all
        if nearest_many is None:  # e.g. PostgreSQL: the database runs each search
            return [self.store.nearest(embedder.model_id, q, limit, f) for q, limit, f in searches]
        found: list[list[tuple[int, float]]] = nearest_many(embedder.model_id, searches)
        return found
