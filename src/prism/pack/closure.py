"""Dependency closure: what the chosen code calls and imports, and who calls it, as extra candidates.

The graph is resolved by name (the index stores who defines, imports and calls which
identifier). Names defined in many places (`get`, `run`) say nothing about which one is
meant, so they are skipped. Neighbours inherit a share of the value of the chunk that
pulled them in, set by the intent (bug fixes weigh callers, features callees).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from prism.models import StoredChunk
from prism.pack.intent import IntentProfile
from prism.pack.select import Candidate, is_test_path

MAX_DEFINITIONS = 3  # a name defined in more places than this is ambiguous
MAX_NEIGHBOURS = 40
SEEDS = 8  # how many of the best candidates pull in neighbours


class Graph(Protocol):
    """The code-graph reads closure needs (SqliteStore provides them)."""

    def find_refs(self, names: Iterable[str], kind: str = "defines") -> list[tuple[int, str]]:
        """(chunk id, name) of chunks that define/import/call any of the names."""
        ...

    def refs_of(self, chunk_ids: Sequence[int], kind: str) -> list[tuple[int, str]]:
        """(chunk id, name) of what the given chunks define/import/call."""
        ...

    def get_chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        """Chunks by id, in the order asked."""
        ...


def _definitions(graph: Graph, names: set[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for chunk_id, name in graph.find_refs(names, "defines"):
        found.setdefault(name, []).append(chunk_id)
    return {n: ids for n, ids in found.items() if len(ids) <= MAX_DEFINITIONS}


def expand(candidates: Sequence[Candidate], graph: Graph, profile: IntentProfile,
           *, tests_only: bool = False) -> list[Candidate]:
    """Neighbours of the best candidates (callees, imports, callers), not already candidates.

    With tests_only, only callers in test files are returned (the test intent's pull).
    """
    seeds = list(candidates[:SEEDS])
    if not seeds:
        return []
    known = {c.chunk.id for c in candidates}
    value_of = {c.chunk.id: c.value for c in seeds}
    seed_ids = [c.chunk.id for c in seeds]
    weights: dict[int, tuple[float, str]] = {}

    def offer(chunk_id: int, value: float, reason: str) -> None:
        if chunk_id in known:
            return
        if value > weights.get(chunk_id, (0.0, ""))[0]:
            weights[chunk_id] = (value, reason)

    if not tests_only:
        for kind, share, reason in (("calls", profile.callees, "callee"),
                                    ("imports", profile.callees * 0.5, "import")):
            uses = graph.refs_of(seed_ids, kind)
            defs = _definitions(graph, {name for _, name in uses})
            for seed_id, name in uses:
                for target in defs.get(name, []):
                    offer(target, value_of[seed_id] * share, reason)
    defined = graph.refs_of(seed_ids, "defines")
    names = {name for _, name in defined if len(name) > 2}
    owner: dict[str, int] = {}
    for seed_id, name in defined:
        owner.setdefault(name, seed_id)
    callers = graph.find_refs(names, "calls")
    by_name: dict[str, int] = {}
    for _, name in callers:
        by_name[name] = by_name.get(name, 0) + 1
    for chunk_id, name in callers:
        if by_name[name] > 25:  # a name called everywhere is not a lead
            continue
        offer(chunk_id, value_of[owner[name]] * profile.callers, "caller")
    best = sorted(weights.items(), key=lambda kv: -kv[1][0])[: MAX_NEIGHBOURS * 2]
    chunks = {c.id: c for c in graph.get_chunks([cid for cid, _ in best])}
    out: list[Candidate] = []
    for chunk_id, (value, reason) in best:
        stored = chunks.get(chunk_id)
        if stored is None:
            continue
        if tests_only and not is_test_path(stored.chunk.path):
            continue
        out.append(Candidate(stored, value, 0.0, "test" if tests_only else reason))
        if len(out) >= MAX_NEIGHBOURS:
            break
    return out
