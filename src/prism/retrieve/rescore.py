"""Cheap re-scoring features for fused candidates: path proximity, code graph, recency, feedback.

Each feature returns a value in [0, 1] per candidate; search.py multiplies it by its weight
(in reciprocal-rank units) and shows every product in `--explain`.
"""

from __future__ import annotations

import math
import posixpath
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from prism.models import ChunkHead

GRAPH_SOURCES = 10  # neighbours of the best few candidates only
MAX_GRAPH_DEFINITIONS = 5
RECENCY_HALF_LIFE_S = 30 * 86400.0


class GraphStore(Protocol):
    def find_refs(self, names: Iterable[str], kind: str = "defines", *,
                  most: int | None = None) -> list[tuple[int, str]]: ...

    def refs_of(self, chunk_ids: Sequence[int], kind: str) -> list[tuple[int, str]]: ...


def path_proximity(path: str, named: Mapping[str, float]) -> float:
    """1 × match strength for a file the query names; less for its directory neighbours."""
    if not named:
        return 0.0
    best = named.get(path, 0.0)
    folder = posixpath.dirname(path)
    for other, strength in named.items():
        if other == path:
            continue
        if posixpath.dirname(other) == folder:
            best = max(best, 0.3 * strength)
        elif folder and posixpath.dirname(other).startswith(folder):
            best = max(best, 0.1 * strength)
    return best


def graph_neighbours(store: GraphStore, ranked: Sequence[int]) -> dict[int, float]:
    """Chunks that the best candidates call, or that call them: 1/rank of the closest source."""
    sources = list(ranked[:GRAPH_SOURCES])
    if not sources:
        return {}
    rank_of = {cid: i + 1 for i, cid in enumerate(sources)}
    out: dict[int, float] = {}

    def add(cid: int, value: float) -> None:
        if cid not in rank_of:
            out[cid] = max(out.get(cid, 0.0), value)

    # callees: names the sources call → chunks defining them
    calls = store.refs_of(sources, "calls")
    callers_of: dict[str, float] = {}
    for cid, name in calls:
        callers_of[name] = max(callers_of.get(name, 0.0), 1.0 / rank_of[cid])
    # A name with more definitions (callers) than the bound says nothing about one of them:
    # the store leaves it out without reading its rows (a common name has hundreds).
    for cid, name in store.find_refs(list(callers_of), "defines", most=MAX_GRAPH_DEFINITIONS):
        add(cid, callers_of[name])
    # callers: chunks that call what the sources define
    defined = {name: cid for cid, name in store.refs_of(sources, "defines") if "." not in name}
    for cid, name in store.find_refs(list(defined), "calls", most=MAX_GRAPH_DEFINITIONS * 2):
        add(cid, 0.5 / rank_of[defined[name]])
    return out


def recency(head: ChunkHead, now: float | None = None) -> float:
    """1 for a chunk indexed just now, halving every 30 days (recently changed code is likelier)."""
    age = max(0.0, (now or time.time()) - head.indexed_at)
    return math.pow(0.5, age / RECENCY_HALF_LIFE_S)


def feedback_value(marks: int) -> float:
    """Net helpful marks squashed into (-1, 1): one mark moves a result, ten don't run away."""
    return math.tanh(marks / 2.0)
