"""The embedded store's vectors: the matrix snapshots beside the index, and the exact brute-force scan.

A fresh process (a CLI search) maps the matrix from .npy files tagged with the index
generation in milliseconds instead of decoding every vector row from SQLite.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads on the first vector operation: a lexical search never needs it
    import numpy as np


@functools.cache
def single_threaded_blas() -> None:
    """Run BLAS on one thread in this process, once.

    The product against the vector matrix is memory-bound: a second OpenBLAS thread does not
    make it faster, but it spin-waits after every call and burned a whole second core during
    the rest of the search (measured: 130 → 71 ms of CPU per search, same wall time).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


# Rows per block of the scan: the block stays in cache while every search of a batch reads it.
# A row's similarity is one dot product whatever the block (a vector product per search), so a
# search gets the same values in a batch as alone (tests/unit/retrieve/test_dense_batch.py).
SCAN_BLOCK_ROWS = 1024

Search = tuple["np.ndarray", int, "Iterable[int] | None"]  # (query rows, limit, allowed ids)


def best_similarities(ids: np.ndarray, matrix: np.ndarray, queries: np.ndarray, limit: int,
                      allowed: Iterable[int] | None = None) -> list[tuple[int, float]]:
    """Exact nearest rows: (id, best cosine to any query) best first, over `allowed` ids if given."""
    return best_similarities_many(ids, matrix, [(queries, limit, allowed)])[0]


def best_similarities_many(ids: np.ndarray, matrix: np.ndarray, searches: list[Search]
                           ) -> list[list[tuple[int, float]]]:
    """`best_similarities` of several searches with one pass over the matrix (block by block)."""
    import numpy as np

    single_threaded_blas()
    if len(ids) == 0:
        return [[] for _ in searches]
    # One window (short queries): vector products, block by block. Several windows (long issue
    # texts): one matrix product over the whole matrix as before, since a blocked one may sum in
    # another order.
    sims = [np.empty(len(ids), dtype=np.result_type(matrix, q)) if len(q) == 1 else matrix @ q.T
            for q, _, _ in searches]
    single = [(q[0], out) for (q, _, _), out in zip(searches, sims, strict=True) if len(q) == 1]
    if single:
        for start in range(0, len(ids), SCAN_BLOCK_ROWS):
            block = matrix[start:start + SCAN_BLOCK_ROWS]
            for query, out in single:
                np.matmul(block, query, out=out[start:start + len(block)])
    return [_top(ids, s if s.ndim == 1 else s.max(axis=1), limit, allowed)
            for s, (_, limit, allowed) in zip(sims, searches, strict=True)]


def _top(ids: np.ndarray, best: np.ndarray, limit: int, allowed: Iterable[int] | None) -> list[tuple[int, float]]:
    import numpy as np

    if allowed is not None:
        allowed_set = np.fromiter(allowed, dtype=np.int64)
        mask = np.isin(ids, allowed_set)
        best = np.where(mask, best, -np.inf)
    k = min(limit, len(ids))
    top = np.argpartition(-best, k - 1)[:k]
    top = top[np.argsort(-best[top], kind="stable")]
    return [(int(ids[i]), float(best[i])) for i in top if np.isfinite(best[i])]


def snapshot_paths(index: Path, model: str) -> tuple[Path, Path, Path]:
    """(matrix, ids, tag) files of the model's snapshot beside the index."""
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)
    return (index.with_name(f"vectors-{tag}.npy"), index.with_name(f"vectors-{tag}.ids.npy"),
            index.with_name(f"vectors-{tag}.json"))


def load_snapshot(index: Path, model: str, gen: int, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The matrix saved for this model at index generation `gen`, memory-mapped; None if there is none."""
    import numpy as np

    data_path, ids_path, meta_path = snapshot_paths(index, model)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("generation") != gen or meta.get("dim") != dim:
            return None
        ids = np.load(ids_path)
        matrix = np.load(data_path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if matrix.shape != (len(ids), dim):
        return None
    return ids, matrix


def save_snapshot(index: Path, model: str, gen: int, ids: np.ndarray, matrix: np.ndarray) -> None:
    """Save the matrix beside the index, best effort: a read-only index folder just means no snapshot."""
    import numpy as np

    data_path, ids_path, meta_path = snapshot_paths(index, model)
    try:
        meta_path.unlink(missing_ok=True)  # the tag goes last: a half-written snapshot is never used
        for path, array in ((data_path, matrix), (ids_path, ids)):
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, array)
            os.replace(tmp, path)
        meta_tmp = meta_path.with_suffix(".tmp")
        meta_tmp.write_text(json.dumps({"generation": gen, "dim": int(matrix.shape[1])}), encoding="utf-8")
        os.replace(meta_tmp, meta_path)
    except OSError:
        pass
