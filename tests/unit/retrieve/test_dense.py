"""Tests for prism.retrieve.dense: brute-force ranking over the vector matrix, on one BLAS thread."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info

from prism.index.embed import HashingEmbedder
from prism.retrieve.dense import search_dense
from prism.retrieve.query import parse_query


class _Vectors:
    def __init__(self, ids: list[int], matrix: np.ndarray) -> None:
        self.ids, self.matrix = np.asarray(ids, dtype=np.int64), matrix

    def vector_matrix(self, model: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        return self.ids, self.matrix


def test_ranks_by_cosine_respects_allowed_ids_and_leaves_blas_on_one_thread() -> None:
    embedder = HashingEmbedder()
    texts = ["parse the sql dialect keywords", "solar position azimuth angle", "refresh an access token"]
    store = _Vectors([10, 20, 30], embedder.embed_documents(texts))
    ranked = search_dense(parse_query("refresh the access token"), embedder, store, limit=3)
    assert ranked[0][0] == 30 and [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    only = search_dense(parse_query("refresh the access token"), embedder, store, limit=3, allowed=[10, 20])
    assert {cid for cid, _ in only} == {10, 20}
    assert all(info["num_threads"] == 1 for info in threadpool_info() if info["user_api"] == "blas")
