"""Hybrid search: parse → lexical + dense + exact candidates → fuse → re-score → aggregate.

Scores are sums of contributions in reciprocal-rank units (being first in a ranking of
weight 1 is worth 1/(k+1)); `explain` lists every contribution, and the reported score is
the total divided by the best total, so the first result scores 1.0.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Literal, overload

from prism.cache import Cache, MemoryCache
from prism.errors import InputError
from prism.index.store import Store
from prism.ingest.paths import in_scope
from prism.models import ChunkHead, Hit, SearchFilters, StoredChunk
from prism.retrieve.dense import QueryEmbedder, query_windows, run_beside
from prism.retrieve.dense_batch import DenseBatcher
from prism.retrieve.exact import PathTable, match_exact
from prism.retrieve.fusion import fuse_reciprocal_rank
from prism.retrieve.hubness import STALE_SHARE, chunk_neighbourhoods, corrected, unseen_share
from prism.retrieve.learned import LearnedModel, QueryShape, default_model, rank_learned
from prism.retrieve.modules import companions
from prism.retrieve.place import asked_places, is_secondary, place_kept
from prism.retrieve.query import dense_helps, parse_query
from prism.retrieve.rescore import GRAPH_SOURCES, feedback_value, graph_neighbours, path_proximity, recency
from prism.retrieve.within import message_fragments, raising_chunks

MAX_FILES_FROM_PATHS = 5
C_FAMILY = frozenset({"c", "cpp"})
# Heads kept between searches of one index generation (~0.6 KB each, so at most ~60 MB):
# candidate sets of different queries overlap, and a cached head costs no SQL row, no object.
MAX_CACHED_HEADS = 100_000
WITHIN_FILES = 10  # error messages are looked for in the text of this many best files (5 missed
# a JVM message whose method ranked 10th, mockito 3167: benchmarks/results/multiswe_dev.md)


@dataclass(frozen=True)
class Weights:
    """Weight of each ranking and feature, in units of 'first place in one ranking'."""

    lexical: float = 1.0
    dense: float = 1.0
    dense_nl: float = 8.0  # short natural-language questions: dense leads, lexical only rescues
    lexical_nl: float = 0.1  # … fused by score: lexical adds this share of its (normalised) score
    symbol: float = 1.5
    path: float = 2.0
    frame: float = 1.0
    graph: float = 0.3
    recency: float = 0.05
    feedback: float = 0.5
    file: float = 0.5  # share of the file's aggregate score each chunk inherits
    file_spread: float = 0.25  # how much a file's 2nd/3rd best chunks add to its score
    secondary: float = 0.5  # tests, fixtures, docs keep this share (retrieve/place.py says when)
    raises: float = 1.0  # the chunk holding an error message the query quotes (retrieve/within.py)
    companion: float = 0.7  # a C/C++ file keeps this share of its header's or implementation's score
    rrf_k: float = 60.0


@dataclass(frozen=True)
class SearchConfig:
    """Which parts run (the ablation switches) and how they are weighed."""

    lexical: bool = True
    dense: bool = True
    exact: bool = True
    features: bool = True
    candidates: int = 200
    # Long (issue) queries read this many times `candidates` lexical hits and rank primary code
    # first (tests/fixtures/docs keep `weights.secondary` of their BM25 score) before cutting
    # back to `candidates`: fixture files full of the words no longer crowd the source
    # files out of the pool. 1 turns it off.
    lexical_pool: int = 4
    title_boost: float = 1.5  # long queries: weight of the first line's words in term selection
    weights: Weights = field(default_factory=Weights)
    # How the signals become one score: "hand-set" (weighted reciprocal ranks, `weights`,
    # normalised so the first result scores 1) or "learned" (the logistic model fitted by
    # benchmarks/fit_fusion.py, retrieve/learned.py: a probability, comparable across queries).
    # "auto": learned for long queries (issue texts: where its cross-validated ranks beat
    # hand-set, benchmarks/results/fusion_cv.md), hand-set for short questions (where it does not).
    fusion: Literal["hand-set", "learned", "auto"] = "hand-set"
    # Query routing: True runs the dense stage only where `query.dense_helps` (questions and
    # prose, not issue texts that name the code): ~0.1 s less per issue text, but on SWE-bench
    # Lite dev with vectors dense still helps those texts (file Acc@1/3/5 59.1/86.4/90.9 with
    # it, 54.5/81.8/86.4 routed: benchmarks/results/query_routing.md), so it is off.
    route_dense: bool = False
    # Short questions in words fuse dense and lexical by score (cosine over the query's best +
    # `lexical_nl` × BM25 over the query's best), not by rank: how far apart two cosines are counts.
    # "rank": weighted reciprocal ranks like every other query (the ablation).
    question_fusion: Literal["score", "rank"] = "score"
    # … and their cosines discount each chunk's closeness to its own nearest neighbours
    # (retrieve/hubness.py: generic helpers near everything stop outranking the answer).
    hubness: bool = True
    model: LearnedModel | None = None  # learned fusion: None = the packaged fusion_weights.json


@dataclass(frozen=True)
class ScoredChunk:
    """One ranked chunk (or file, at file level) with its normalised score and breakdown."""

    chunk: StoredChunk
    score: float
    explain: dict[str, float]


# (chunk id, normalised score, breakdown): a ranked candidate before its chunk is loaded.
_Ranked = tuple[int, float, dict[str, float]]


@dataclass(frozen=True)
class Candidates:
    """What fusion works on: the candidates' heads, the hand-set score parts of each, the raw
    signals of each (retrieve/learned.py's inputs) and the query's shape."""

    heads: dict[int, ChunkHead]
    explain: dict[int, dict[str, float]]
    signals: dict[int, dict[str, float]]
    shape: QueryShape


@dataclass(frozen=True)
class SearchOutcome:
    query: str
    results: tuple[ScoredChunk, ...]
    warnings: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)


def _has_filters(filters: SearchFilters | None) -> bool:
    return filters is not None and bool(
        filters.languages or filters.kinds or filters.path or filters.since is not None
        or filters.scope != "all")


class Searcher:
    """Runs searches over one store; caches the file list and vector status per index generation.

    Query vectors are kept in `cache` (the engine's; by default one of this searcher's own).
    """

    def __init__(self, store: Store, embedder: Callable[[], QueryEmbedder] | None = None,
                 config: SearchConfig | None = None, cache: Cache | None = None) -> None:
        self.store = store
        self._load_embedder = embedder
        self.config = config or SearchConfig()
        self.cache: Cache = cache if cache is not None else MemoryCache()
        self._cache_gen = -1
        self._paths = PathTable({})
        self._dense_state: tuple[str | None, int] = (None, 0)
        self._head_cache: dict[int, ChunkHead] = {}  # this generation's heads read so far, by id
        self._dense_batch = DenseBatcher(store, self.cache)  # concurrent searches share the dense stage
        # Neighbourhood cosines (retrieve/hubness.py), their median for chunks new since, the model
        # they were computed for, and whether a write came since (then they may be recomputed).
        self._hubs: dict[int, float] | None = None
        self._hubs_median = 0.0
        self._hubs_model: str | None = None
        self._hubs_stale = False

    def _refresh(self) -> None:
        gen = self.store.generation()
        if gen == self._cache_gen:
            return
        self._paths = PathTable.build(sorted(self.store.file_states()))
        model = self.store.get_meta("embed_model")
        pending = self.store.count_pending_embeddings(model) if model else self.store.count_chunks()
        self._dense_state = (model, pending)
        self._head_cache = {}
        self._hubs_stale = True
        self._cache_gen = gen

    def _dense(self, text_query: object, filters: SearchFilters | None, warnings: list[str]
               ) -> list[tuple[int, float]]:
        from prism.retrieve.query import ParsedQuery

        assert isinstance(text_query, ParsedQuery)
        model, pending = self._dense_state
        if self._load_embedder is None:
            return []
        if model is None:
            warnings.append("The index has no vectors yet: results are lexical only "
                            "(run `prism index` with embeddings on).")
            return []
        try:
            embedder = self._load_embedder()
        except Exception as exc:  # a model that cannot load must not break search
            warnings.append(f"The embedding model could not be loaded ({exc}): "
                            "results are lexical only.")
            return []
        if embedder.model_id != model:
            warnings.append(f"The index vectors come from {model}, not {embedder.model_id}: "
                            "results are lexical only (re-run `prism index`).")
            return []
        if pending:
            warnings.append(f"{pending} chunks have no vector yet: dense results cover only part "
                            "of the index (run `prism index` to finish embedding).")
        windows = query_windows(text_query)
        if not windows:
            return []
        return self._dense_batch.search(embedder, windows, self.config.candidates, filters)

    def search(self, text: str, *, limit: int = 10, files: bool = False,
               filters: SearchFilters | None = None,
               config: SearchConfig | None = None) -> SearchOutcome:
        """Rank the index's chunks (or files) for a query of any length."""
        cfg = config or self.config
        started = time.perf_counter()
        timings: dict[str, float] = {}
        warnings: list[str] = []
        found = self.candidates(text, filters=filters, config=cfg, timings=timings, warnings=warnings)
        t = time.perf_counter()
        if cfg.fusion == "learned" or (cfg.fusion == "auto" and found.shape.long):
            ranked = rank_learned(cfg.model or default_model(), found.heads, found.signals,
                                  found.shape, files=files)
        else:
            ranked = self._aggregate(found.heads, found.explain, cfg.weights, files, limit)
        if filters is not None and filters.min_score is not None:
            ranked = [r for r in ranked if r[1] >= filters.min_score]
        results = self._load(ranked[:limit])
        timings["aggregate"] = round((time.perf_counter() - t) * 1000, 2)
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)
        return SearchOutcome(text, results, tuple(dict.fromkeys(warnings)), timings)

    def candidates(self, text: str, *, filters: SearchFilters | None = None,
                   config: SearchConfig | None = None, timings: dict[str, float] | None = None,
                   warnings: list[str] | None = None) -> Candidates:
        """The candidates of a query (heads) with their hand-set score parts and raw signals."""
        from prism.retrieve.lexical import search_lexical

        cfg = config or self.config
        w = cfg.weights
        timings = {} if timings is None else timings
        warnings = [] if warnings is None else warnings
        self._refresh()
        query = parse_query(text)
        filtered = filters if filters is not None and _has_filters(filters) else None

        def lap(name: str, since: float) -> float:
            now = time.perf_counter()
            timings[name] = round((now - since) * 1000, 2)
            return now

        t = time.perf_counter()
        rankings: dict[str, list[int]] = {}
        read: dict[int, ChunkHead] = {}  # heads read so far in this search, by id
        scores: dict[str, dict[int, float]] = {}  # raw per-ranking scores (learned fusion's inputs)
        dense_warnings: list[str] = []
        dense_job: Future[tuple[list[tuple[int, float]], float]] | None = None
        if cfg.dense and (not cfg.route_dense or dense_helps(query)):
            def stage() -> list[tuple[int, float]]:
                return self._dense(query, filtered, dense_warnings)
            # Unfiltered, the dense stage runs on a worker thread while the lexical stage runs here
            # (dense.run_beside). A filter registers SQL functions on the shared connection, which
            # SQLite refuses while the other stage's statement runs: then one after the other.
            dense_job = run_beside(stage, concurrent=filtered is None)
        if cfg.lexical:
            pool = cfg.lexical_pool if query.is_long and w.secondary < 1.0 else 1
            lexical = search_lexical(query, self.store, cfg.candidates * pool, filters,
                                     cfg.title_boost)
            if pool > 1:
                lexical = self._primary_first(lexical, w.secondary, read)[: cfg.candidates]
            rankings["lexical"] = [cid for cid, _ in lexical]
            top = lexical[0][1] if lexical and lexical[0][1] > 0 else 1.0
            scores["lexical_score"] = {cid: max(score, 0.0) / top for cid, score in lexical}
        t = lap("lexical", t)
        if dense_job is not None:
            dense, timings["dense"] = dense_job.result()
            warnings.extend(dense_warnings)
            rankings["dense"] = [cid for cid, _ in dense]
            scores["cosine"] = {cid: max(cos, 0.0) for cid, cos in dense}
        t = lap("dense_wait", t)  # what the dense stage added after the lexical one
        named_files: dict[str, float] = {}
        frames: dict[int, float] = {}
        named: tuple[str, ...] = ()  # plain words of the query that name a definition
        symbols: dict[int, float] = {}
        if cfg.exact:
            exact = match_exact(query, self.store, self._paths)
            symbols = exact.symbols
            if filtered is not None:
                passing = self.store.filter_ids(symbols, filtered)
                symbols = {k: v for k, v in symbols.items() if k in passing}
            rankings["symbol"] = sorted(symbols, key=lambda cid: (-symbols[cid], cid))
            # How rare the name is (learned fusion's input; hand-set scales its share below).
            scores["symbol_strength"] = {cid: min(1.0, v) for cid, v in symbols.items()}
            named_files, frames, named = exact.files, exact.frames, exact.named
        t = lap("exact", t)

        # A question that names a definition ("Limits", "how is Limits compared") is about that
        # code: dense does not lead it (ranking: issue 14, "exact names win").
        question = query.is_natural_language and not named
        dense_weight = w.dense_nl if question else w.dense
        fused, parts = fuse_reciprocal_rank(
            rankings, {"lexical": w.lexical, "dense": dense_weight, "symbol": w.symbol}, w.rrf_k)
        unit = 1.0 / (w.rrf_k + 1.0)
        feedback_unit = unit
        if question and cfg.question_fusion == "score" and rankings.get("dense"):
            hubs = self._hub_scores(scores["cosine"]) if cfg.hubness else {}
            fused_by = {**scores, "cosine": corrected(scores["cosine"], hubs, unseen=self._hubs_median)} \
                if hubs else scores
            _fuse_scores(parts, fused_by, dense_weight * unit, w.lexical_nl)
            # Scores, not ranks, now set the gaps between neighbours: a mark is worth a share
            # of the best cosine, or helpful marks could not lift a result one place.
            feedback_unit = dense_weight * unit
        # A definition's place in the symbol ranking says only that it matched; how strongly
        # (a unique code-like name: 1; `default`, a plain word defined by ten types: ~0.1)
        # scales its share, or every weak match earns what the one exact name earns.
        for cid, strength in symbols.items():
            if "symbol" in parts.get(cid, {}):
                parts[cid]["symbol"] *= min(1.0, strength)
        candidate_ids = set(fused) | set(frames)
        for path in sorted(named_files, key=lambda p: -named_files[p])[:MAX_FILES_FROM_PATHS]:
            candidate_ids.update(h.id for h in self.store.heads_in_file(path))
        if filtered is not None:
            candidate_ids = self.store.filter_ids(candidate_ids, filtered)
        # Ranking reads heads (no text, no refs); only the hits returned load as full chunks.
        heads = self._heads(sorted(candidate_ids), read)
        if filters is not None and filters.scope != "all":  # whatever the backend did with it
            heads = {cid: h for cid, h in heads.items() if in_scope(h.path, h.kind, filters.scope)}
        explain: dict[int, dict[str, float]] = {cid: dict(parts.get(cid, {})) for cid in heads}
        # Raw signals in [0, 1]: a ranking's place as (k+1)/(k+rank) (1 for first), raw scores.
        signals: dict[int, dict[str, float]] = {cid: {} for cid in heads}
        for name, ranking in rankings.items():
            for rank, cid in enumerate(ranking, 1):
                if cid in signals:
                    signals[cid][name] = (w.rrf_k + 1.0) / (w.rrf_k + rank)
                    signals[cid][f"{name}_rank"] = float(rank)
        for name, values in scores.items():
            for cid, value in values.items():
                if cid in signals:
                    signals[cid][name] = value

        proximities: dict[str, float] = {}  # per file: a file's chunks share its value
        for cid, h in heads.items():
            if named_files:
                proximity = proximities.get(h.path)
                if proximity is None:
                    proximity = proximities[h.path] = path_proximity(h.path, named_files)
                explain[cid]["path"] = w.path * unit * proximity
                signals[cid]["path"] = proximity
            if cid in frames:
                explain[cid]["frame"] = w.frame * unit * frames[cid]
                signals[cid]["frame"] = frames[cid]
        fragments = message_fragments(query) if cfg.exact and w.raises > 0 else ()
        if fragments:  # the chunk of a likely file that holds the quoted error message
            for cid, value in self._raising(fragments, heads, explain).items():
                explain[cid]["raises"] = w.raises * unit * value
                signals[cid]["raises"] = value
        t = lap("fuse", t)

        if cfg.features:
            self._add_features(heads, explain, signals, w, unit, feedback_unit)
            asked = asked_places(query.text)
            # place_share reads only these of a head: (demoted, share kept) once per place, each
            # remembered across searches (place_kept)
            places: dict[tuple[str, str, str | None], tuple[bool, float]] = {}
            for cid, h in heads.items():
                where = (h.path, h.kind, h.language)
                place = places.get(where)
                if place is None:  # demoted: a secondary file not asked for
                    demoted = place_kept(*where, query.is_long, asked, 0.0) < 1.0
                    kept = place_kept(*where, query.is_long, asked, w.secondary) \
                        if demoted and w.secondary < 1.0 else 1.0
                    place = places[where] = (demoted, kept)
                demoted, kept = place
                signals[cid]["secondary"] = float(demoted)
                if demoted and w.secondary < 1.0:  # place prior (retrieve/place.py): it keeps a share
                    explain[cid]["prior"] = -(1.0 - kept) * sum(explain[cid].values())
        lap("features", t)
        shape = QueryShape(natural_language=question, long=query.is_long)
        return Candidates(heads, explain, signals, shape)

    def _hub_scores(self, candidates: dict[int, float]) -> dict[int, float]:
        """Each embedded chunk's mean cosine to its nearest neighbours (retrieve/hubness.py); {} on
        indexes too large for it. Computed on the first question, and again after a write only once
        more than STALE_SHARE of a question's dense candidates are chunks it does not know."""
        model, _ = self._dense_state
        if self._hubs is None or model != self._hubs_model or (
                self._hubs_stale and (not self._hubs or unseen_share(candidates, self._hubs) > STALE_SHARE)):
            import statistics

            self._hubs = chunk_neighbourhoods(self.store, model) if model else {}
            self._hubs_median = statistics.median(self._hubs.values()) if self._hubs else 0.0
            self._hubs_model, self._hubs_stale = model, False
        return self._hubs

    def _raising(self, fragments: tuple[str, ...], heads: dict[int, ChunkHead],
                 explain: dict[int, dict[str, float]]) -> dict[int, float]:
        """Lexical candidates of the best WITHIN_FILES files whose text holds a fragment of the
        query's error messages (a chunk holding the message's words matches them lexically)."""
        best: dict[str, float] = {}
        for cid, h in heads.items():
            best[h.path] = max(best.get(h.path, 0.0), sum(explain[cid].values()))
        top = set(sorted(best, key=lambda p: (-best[p], p))[:WITHIN_FILES])
        ids = [cid for cid, h in heads.items() if h.path in top and "lexical" in explain[cid]]
        return raising_chunks(fragments, self.store.get_chunks(ids))

    def _load(self, ranked: list[_Ranked]) -> tuple[ScoredChunk, ...]:
        """The ranked hits as full chunks (one read; a chunk a writer removed meanwhile is left out)."""
        full = {sc.id: sc for sc in self.store.get_chunks([cid for cid, _, _ in ranked])}
        return tuple(ScoredChunk(full[cid], score, parts) for cid, score, parts in ranked if cid in full)

    def _heads(self, ids: list[int], read: dict[int, ChunkHead]) -> dict[int, ChunkHead]:
        """The heads of `ids` in that order, reading from the store only those neither this search
        nor an earlier one of the same index generation has read."""
        cached = self._head_cache
        missing = []
        for cid in ids:
            if cid not in read:
                head = cached.get(cid)
                if head is None:
                    missing.append(cid)
                else:
                    read[cid] = head
        if missing:
            fresh = self.store.get_heads(missing)
            read.update((h.id, h) for h in fresh)
            if len(cached) + len(fresh) <= MAX_CACHED_HEADS:
                cached.update((h.id, h) for h in fresh)
        return {cid: read[cid] for cid in ids if cid in read}

    def _primary_first(self, ranked: list[tuple[int, float]], secondary: float,
                       read: dict[int, ChunkHead]) -> list[tuple[int, float]]:
        """Re-rank lexical hits with secondary files (tests, fixtures, docs) at a share of their score."""
        kinds = {cid: is_secondary(h) for cid, h in self._heads([cid for cid, _ in ranked], read).items()}
        scored = [(cid, score * (secondary if kinds.get(cid, False) else 1.0)) for cid, score in ranked]
        return sorted(scored, key=lambda cs: -cs[1])

    def _add_features(self, heads: dict[int, ChunkHead], explain: dict[int, dict[str, float]],
                      signals: dict[int, dict[str, float]], w: Weights, unit: float,
                      feedback_unit: float) -> None:
        if w.graph > 0:
            # Only the best GRAPH_SOURCES are sources: nsmallest is sorted(...)[:n], ties included.
            best = heapq.nsmallest(GRAPH_SOURCES, heads, key=lambda cid: -sum(explain[cid].values()))
            neighbours = graph_neighbours(self.store, best)
            for cid, value in neighbours.items():
                if cid in heads:
                    explain[cid]["graph"] = w.graph * unit * value
                    signals[cid]["graph"] = value
        now = time.time()
        if w.recency > 0:
            ages: dict[float, float] = {}  # per indexed_at (a file's chunks share it)
            for cid, h in heads.items():
                age = ages.get(h.indexed_at)
                if age is None:
                    age = ages[h.indexed_at] = recency(h, now)
                explain[cid]["recency"] = w.recency * unit * age
                signals[cid]["recency"] = age
        if w.feedback > 0:
            marks = self.store.feedback_marks({h.path for h in heads.values()})
            if marks:
                for cid, h in heads.items():
                    net = marks.get((h.path, h.qualified_name), 0) + marks.get((h.path, ""), 0)
                    if net:
                        explain[cid]["feedback"] = w.feedback * feedback_unit * feedback_value(net)
                        signals[cid]["feedback"] = feedback_value(net)

    def _aggregate(self, heads: dict[int, ChunkHead], explain: dict[int, dict[str, float]],
                   w: Weights, files: bool, limit: int | None = None) -> list[_Ranked]:
        """The best `limit` (all by default), best first. Scores fall along the order, so a
        `min_score` filter of the first `limit` keeps what it keeps of the whole list."""
        totals = {cid: sum(parts.values()) for cid, parts in explain.items()}
        per_file: dict[str, list[int]] = {}
        for cid in sorted(totals, key=lambda c: (-totals[c], c)):
            per_file.setdefault(heads[cid].path, []).append(cid)
        file_score = {
            path: totals[ids[0]] + w.file_spread * sum(totals[c] for c in ids[1:3])
            for path, ids in per_file.items()
        }
        if w.companion > 0:  # a C/C++ header ranks beside its implementation (retrieve/modules.py)
            native = [p for p, ids in per_file.items() if heads[ids[0]].language in C_FAMILY]
            lifted = {p: max(file_score[o] for o in others) * w.companion
                      for p, others in companions(native).items()}
            file_score.update({p: v for p, v in lifted.items() if v > file_score[p]})
        if files:
            order = sorted(per_file, key=lambda p: (-file_score[p], p))
            best = file_score[order[0]] if order else 1.0
            return [(per_file[p][0], file_score[p] / best if best > 0 else 0.0,
                     {**explain[per_file[p][0]], "file": file_score[p]})
                    for p in order[:limit]]
        final = {cid: totals[cid] + w.file * file_score[heads[cid].path] for cid in totals}
        order_ids = sorted(final, key=lambda c: (-final[c], c))
        best = final[order_ids[0]] if order_ids else 1.0
        return [(cid, final[cid] / best if best > 0 else 0.0,
                 {**explain[cid], "file": w.file * file_score[heads[cid].path]})
                for cid in order_ids[:limit]]


def _fuse_scores(parts: dict[int, dict[str, float]], scores: dict[str, dict[int, float]], scale: float,
                 lexical_share: float) -> None:
    """Replace the dense and lexical rank shares by score shares: scale × (cosine / the best
    cosine + lexical_share × lexical score / the best), so the best cosine is worth what first
    place in the dense ranking was (`scale`) and the other features keep their weight."""
    cosine = scores.get("cosine", {})
    best = max(cosine.values(), default=0.0) or 1.0
    for name, values, share in (("dense", cosine, 1.0 / best),
                                ("lexical", scores.get("lexical_score", {}), lexical_share)):
        for row_id, row in parts.items():
            if name in row:
                row[name] = scale * share * values.get(row_id, 0.0)


def with_weights(config: SearchConfig, **changes: float) -> SearchConfig:
    """A copy of config with some weights changed (for tuning and ablations)."""
    return replace(config, weights=replace(config.weights, **changes))


MAX_LIMIT = 100
SNIPPET_LINES = 12


@dataclass(frozen=True)
class SearchResponse:
    """What Prism.search returns: ranked hits (chunks, or one per file) plus any warnings."""

    query: str
    hits: tuple[Hit, ...]
    files: bool = False
    warnings: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)

    # A response reads as its hits: `for hit in hits`, `len(hits)`, `hits[0]`.
    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @overload
    def __getitem__(self, index: int) -> Hit: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Hit, ...]: ...
    def __getitem__(self, index: int | slice) -> Hit | tuple[Hit, ...]:
        return self.hits[index]

    def to_dict(self, *, explain: bool = False) -> dict[str, object]:
        """The stable JSON shape scripts rely on (CLI --json, HTTP, MCP)."""
        data: dict[str, object] = {
            "query": self.query,
            "level": "file" if self.files else "chunk",
            "results": [hit_to_dict(h, explain=explain) for h in self.hits],
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data


def snippet(chunk: StoredChunk, lines: int = SNIPPET_LINES) -> str:
    """The chunk's first lines (signature and docstring come first in a chunk)."""
    body = chunk.chunk.content.splitlines()
    text = "\n".join(body[:lines])
    return text + ("\n…" if len(body) > lines else "")


def hit_to_dict(hit: Hit, *, explain: bool = False) -> dict[str, object]:
    c = hit.chunk.chunk
    data: dict[str, object] = {
        "path": c.path, "start_line": c.start_line, "end_line": c.end_line,
        "symbol": c.qualified_name, "kind": c.kind, "score": round(hit.score, 4),
        "stale": hit.stale, "snippet": snippet(hit.chunk), "language": c.language,
    }
    if explain:
        data["explain"] = {k: round(v, 6) for k, v in sorted(hit.explain.items())}
    return data


def validate_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"--limit must be between 1 and {MAX_LIMIT}, not {limit}.",
                         hint=f"Pass a limit from 1 to {MAX_LIMIT}.", value=limit)
    return limit
