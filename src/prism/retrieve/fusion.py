"""Weighted reciprocal rank fusion: merge rankings whose scores are not comparable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60.0


def fuse_reciprocal_rank(rankings: Mapping[str, Sequence[int]], weights: Mapping[str, float],
                         k: float = RRF_K) -> tuple[dict[int, float], dict[int, dict[str, float]]]:
    """Fused score per id (sum of weight / (k + rank)) and each ranking's share of it.

    Rankings are id lists best first; a ranking with weight 0 (or missing) is ignored.
    """
    fused: dict[int, float] = {}
    parts: dict[int, dict[str, float]] = {}
    for name, ranked in rankings.items():
        weight = weights.get(name, 0.0)
        if weight <= 0:
            continue
        for rank, item in enumerate(ranked, 1):
            share = weight / (k + rank)
            fused[item] = fused.get(item, 0.0) + share
            parts.setdefault(item, {})[name] = share
    return fused, parts
