"""Weighted reciprocal rank fusion: merge rankings whose scores are not comparable; and the
merge of several projects' results into one ranking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from prism.models import Hit

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


def merge_across(lists: Sequence[Sequence[Hit]]) -> list[tuple[int, Hit]]:
    """Hits of several projects' searches as one ranking: (list index, hit) best first.

    Each search reports score = its total / its own best total, so every project's first hit
    scores 1. The totals themselves are sums of the same weighted reciprocal-rank contributions
    (`explain`), so they are compared instead, and each merged score is a total over the best
    total of all lists: a repository with the exact symbol outranks one with only loose matches.
    """
    totals = [(i, hit, sum(hit.explain.values()) or hit.score) for i, hits in enumerate(lists) for hit in hits]
    best = max((t for _, _, t in totals), default=1.0) or 1.0
    ordered = sorted(enumerate(totals), key=lambda item: (-item[1][2], item[0]))
    return [(i, replace(hit, score=total / best)) for _, (i, hit, total) in ordered]
