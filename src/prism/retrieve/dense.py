"""Dense retrieval: the query's embedding against every chunk vector (exact, brute force).

The bundled model reads at most a few hundred word pieces, so a long issue text is cut into
a few windows (its opening — title and summary — plus the windows around error lines and
the stack trace) and each chunk takes its best similarity to any window: nothing at the
end of the text is silently dropped, and the cost stays a handful of model calls.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from prism.retrieve.query import ParsedQuery

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

WINDOW_CHARS = 1000  # ~250 word pieces of English/code: MiniLM's 256-token window
MAX_WINDOWS = 3


class QueryEmbedder(Protocol):
    """What dense retrieval needs from an embedder."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_query(self, text: str) -> NDArray[np.float32]: ...


class VectorStore(Protocol):
    def vector_matrix(self, model: str, dim: int
                      ) -> tuple[NDArray[np.int64], NDArray[np.float32]]: ...


def query_windows(query: ParsedQuery) -> list[str]:
    """The texts to embed: the whole query when short, else the opening plus error/trace windows."""
    text = query.text.strip()
    if len(text) <= WINDOW_CHARS:
        return [text] if text else []
    windows = [text[:WINDOW_CHARS]]
    lines = text.splitlines()
    marks = [i for i, line in enumerate(lines)
             if line.lstrip().startswith(("File \"", "Traceback")) or
             any(e in line for e in query.errors)]
    if marks:
        last = marks[-1]  # the end of the last traceback: where the failure surfaced
        tail = "\n".join(lines[max(0, last - 12): last + 3])
        if tail and tail not in windows[0]:
            windows.append(tail[-WINDOW_CHARS:])
    # The middle of the text often holds the code that reproduces the bug.
    middle = len(text) // 2
    if len(windows) < MAX_WINDOWS and len(text) > 2 * WINDOW_CHARS:
        windows.append(text[middle - WINDOW_CHARS // 2: middle + WINDOW_CHARS // 2])
    return windows[:MAX_WINDOWS]


@functools.cache
def single_threaded_blas() -> None:
    """Run BLAS on one thread in this process, once.

    The product against the vector matrix is memory-bound: a second OpenBLAS thread does not
    make it faster, but it spin-waits after every call and burned a whole second core during
    the rest of the search (measured: 130 → 71 ms of CPU per search, same wall time).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def search_dense(query: ParsedQuery, embedder: QueryEmbedder, store: VectorStore, limit: int,
                 allowed: Iterable[int] | None = None) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) best first over chunks that have a vector."""
    import numpy as np

    single_threaded_blas()

    windows = query_windows(query)
    if not windows:
        return []
    ids, matrix = store.vector_matrix(embedder.model_id, embedder.dim)
    if len(ids) == 0:
        return []
    queries = np.stack([np.asarray(embedder.embed_query(w), dtype=np.float32) for w in windows])
    sims = matrix @ queries.T
    best = sims.max(axis=1) if sims.shape[1] > 1 else sims[:, 0]
    if allowed is not None:
        allowed_set = np.fromiter(allowed, dtype=np.int64)
        mask = np.isin(ids, allowed_set)
        best = np.where(mask, best, -np.inf)
    k = min(limit, len(ids))
    top = np.argpartition(-best, k - 1)[:k]
    top = top[np.argsort(-best[top], kind="stable")]
    return [(int(ids[i]), float(best[i])) for i in top if np.isfinite(best[i])]
