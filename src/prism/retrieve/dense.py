"""Dense retrieval: the query's embedding against the chunk vectors, by the store's nearest search.

A long issue text is embedded as its opening (title and summary: what the issue is about); the
error lines, stack trace and code further down name the code, which the lexical and exact
stages match better. Measured on SWE-bench Lite dev with vectors, the opening alone (its first
128 MiniLM word pieces) ranks as well as the earlier three windows — opening, traceback tail,
middle, each up to three 128-token model windows — with a ninth of the model CPU at the p95
(348 → 37 ms; benchmarks/results/search_latency.md). A query embedded lately (asked again, a paged or
refined search, on this replica or, with a Redis cache, on another) comes from the engine's
cache instead of the model.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol, TypeVar

from prism.cache import EMBEDDING_TTL_S, Cache, embedding_namespace, request_key
from prism.models import SearchFilters
from prism.retrieve.query import ParsedQuery

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# What an embedder is given of a long text: more than the bundled model reads (MiniLM keeps its
# first embed.QUERY_TOKENS word pieces), within what every remote provider accepts.
WINDOW_CHARS = 1000
# Dense stages running at once beside their searches' lexical stages (request threads of a
# server); more than the coalescer's batch, so concurrent searches still meet there.
MAX_BESIDE = 32

T = TypeVar("T")


class QueryEmbedder(Protocol):
    """What dense retrieval needs from an embedder."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class NearestStore(Protocol):
    """What dense retrieval needs from a store (`VectorIndex.nearest`)."""

    def nearest(
        self, model: str, queries: NDArray[np.float32], limit: int, filters: SearchFilters | None = None
    ) -> list[tuple[int, float]]: ...


def query_windows(query: ParsedQuery) -> list[str]:
    """The texts to embed: the query's opening WINDOW_CHARS characters (none for an empty query)."""
    text = query.text.strip()
    return [text[:WINDOW_CHARS]] if text else []


def search_dense(
    query: ParsedQuery,
    embedder: QueryEmbedder,
    store: NearestStore,
    limit: int,
    filters: SearchFilters | None = None,
    cache: Cache | None = None,
) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) best first over chunks that have a vector (and pass the filters)."""
    import numpy as np

    windows = query_windows(query)
    if not windows:
        return []
    queries = np.stack(query_vectors(embedder, windows, cache))
    return store.nearest(embedder.model_id, queries, limit, filters)


def query_vectors(
    embedder: QueryEmbedder, texts: Sequence[str], cache: Cache | None = None
) -> list[NDArray[np.float32]]:
    """One vector per text: those in `cache` (under the model's namespace), the rest embedded in one
    call and cached there, as float32 bytes."""
    import numpy as np

    namespace = embedding_namespace(f"{embedder.model_id}/{embedder.dim}")
    found: dict[str, NDArray[np.float32]] = {}
    if cache is not None:
        for text in dict.fromkeys(texts):
            stored = cache.get(namespace, request_key(text))
            if isinstance(stored, bytes) and len(stored) == 4 * embedder.dim:
                found[text] = np.frombuffer(stored, dtype=np.float32)
    missing = [t for t in dict.fromkeys(texts) if t not in found]
    if missing:
        fresh = np.asarray(embedder.embed_queries(missing), dtype=np.float32)
        for text, vector in zip(missing, fresh, strict=True):
            found[text] = vector
            if cache is not None:
                cache.set(namespace, request_key(text), vector.tobytes(), EMBEDDING_TTL_S)
    return [found[t] for t in texts]


@functools.cache
def _beside_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(MAX_BESIDE, thread_name_prefix="prism-dense")


def run_beside(stage: Callable[[], T], *, concurrent: bool = True) -> Future[tuple[T, float]]:
    """Start `stage` on a worker thread (run it here, now, unless `concurrent`); its future gives
    (result, the stage's own milliseconds).

    A search starts its dense stage this way before its lexical stage: the model run and the
    matrix product release the GIL (onnxruntime, BLAS), as SQLite does while FTS5 ranks, so
    on two cores the two stages overlap and a long issue text waits for the slower one, not
    for their sum. CPU per search is unchanged.
    """

    def timed() -> tuple[T, float]:
        started = time.perf_counter()
        result = stage()
        return result, round((time.perf_counter() - started) * 1000, 2)

    if concurrent:
        return _beside_pool().submit(timed)
    done: Future[tuple[T, float]] = Future()
    try:
        done.set_result(timed())
    except Exception as exc:  # raised again where the result is read, as from the pool
        done.set_exception(exc)
    return done
