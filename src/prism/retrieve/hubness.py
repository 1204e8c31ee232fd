"""Hubness correction of cosines for natural-language questions.

In a space of many vectors some chunks ("hubs": short, generic helpers) lie close to most of
their neighbours, and so to most questions: they take first place for questions they do not
answer. Cross-domain similarity local scaling (CSLS, Conneau et al. 2018) discounts each
chunk's cosine by how close it is to its own nearest neighbours: a chunk keeps what it is
nearer to the question than to its neighbourhood. Here the neighbourhood is the chunk's
`HUB_NEIGHBOURS` nearest other chunks of the same index, so nothing outside the index is
needed and the query side costs one lookup per candidate.

Measured on CoSQA dev (benchmarks/results/cosqa_dev.md): MRR 52.6 → 53.5, the gain on both
halves of a split-half check. The neighbourhood is computed exactly (every vector against
every other), so it runs only on indexes of at most `MAX_HUB_CHUNKS` chunks (~1.6 CPU s at that
size); larger ones keep plain cosines. It is not recomputed after every write: a chunk's
neighbourhood barely moves when a few files change, so the search keeps it until more than
`STALE_SHARE` of a question's dense candidates are chunks it has not seen (watch mode's edits
never stall a question), and those new chunks take the median neighbourhood meanwhile. The vectors
are read through the Store protocol (each chunk's stored text hash, and the stored vectors by
text hash), so SQLite and PostgreSQL rank alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np
    from numpy.typing import NDArray

    from prism.index.store import Store

HUB_NEIGHBOURS = 10
HUB_SHARE = 0.5  # cosine − HUB_SHARE × mean cosine to the chunk's nearest neighbours
MAX_HUB_CHUNKS = 10_000
STALE_SHARE = 0.2  # recompute once more than this share of a question's dense candidates is new
BLOCK_ROWS = 1024  # rows per matrix product: 1024 × 10 k float32 ≈ 40 MB at a time


def neighbourhood(matrix: NDArray[np.float32], k: int = HUB_NEIGHBOURS) -> NDArray[np.float32]:
    """Per row of unit vectors, the mean cosine to its `k` nearest other rows (0 when alone)."""
    import numpy as np

    n = len(matrix)
    out = np.zeros(n, dtype=np.float32)
    k = min(k, n - 1)
    if k <= 0:
        return out
    for start in range(0, n, BLOCK_ROWS):
        sims = matrix[start : start + BLOCK_ROWS] @ matrix.T
        rows = np.arange(len(sims))
        sims[rows, rows + start] = -np.inf  # a chunk is not its own neighbour
        out[start : start + len(sims)] = np.partition(sims, n - k, axis=1)[:, n - k :].mean(axis=1)
    return out


def chunk_neighbourhoods(store: Store, model: str) -> dict[int, float]:
    """`neighbourhood` of every embedded chunk of the store, by chunk id; {} past MAX_HUB_CHUNKS.

    A chunk's vector is the stored one of the text hash the indexer stored beside it (read
    without the chunks: reading and re-hashing every chunk's text cost more than the matrix
    products); rows are in chunk id order, so every store computes the same values.
    """
    import numpy as np

    if store.count_chunks() > MAX_HUB_CHUNKS:
        return {}
    vectors = {h: v for batch in store.export_embeddings(model) for h, v in batch}
    ids: list[int] = []
    rows: list[NDArray[np.float32]] = []
    for cid, text_hash in store.chunk_text_hashes():
        vector = vectors.get(text_hash)
        if vector is not None:
            ids.append(cid)
            rows.append(vector)
    if not rows:
        return {}
    return dict(zip(ids, neighbourhood(np.stack(rows)).tolist(), strict=True))


def corrected(cosines: dict[int, float], hubs: dict[int, float], share: float = HUB_SHARE,
              unseen: float = 0.0) -> dict[int, float]:
    """The cosines less `share` × each chunk's neighbourhood cosine (`unseen` for a chunk the
    neighbourhoods do not know), clipped at 0."""
    return {cid: max(cos - share * hubs.get(cid, unseen), 0.0) for cid, cos in cosines.items()}


def unseen_share(ids: Iterable[int], hubs: dict[int, float]) -> float:
    """The share of `ids` that `hubs` has no neighbourhood for (0 for no ids)."""
    ids = list(ids)
    return sum(cid not in hubs for cid in ids) / len(ids) if ids else 0.0
