"""Lexical retrieval: BM25 over identifier-split terms through the store's full-text index.

A three-word question becomes its terms, each of weight 1. A bug report of thousands of words
would make the index walk long posting lists for words like "the" or "value", so long queries keep
only their most informative terms: weight = IDF × (1 + log query frequency), with a bonus
for terms that come from identifiers, paths and stack frames (these are never dropped
for being late in the text, so a trace at the end of an issue still counts).

A full-text engine scores every row the terms match (FTS5: ~2 µs each), so on a large index
a question with a common word ("python", "test") spends most of its time scoring rows that
never reach the top. There the store is asked to score only rows holding at least one of the
rarer terms (`require`: terms taken rarest first until they are found in `PRUNE_FACTOR`× as
many chunks as the hits kept, but never a term that alone exceeds that); the scores of the
rows it keeps are unchanged (`index/sqlite.py`'s `fts_match` says how FTS5 does it).
MaxScore-style pruning without an upper-bound proof, so it is measured
(`benchmarks/lexical_pruning.py`, 103k chunks): CoSQA questions keep 98.5 % of their top 10
(89 % of their top 200: the rest share only a common word with the question) at 6× less time.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from prism.index.store import LexicalIndex, WeightedTerm
from prism.index.terms import lexical_terms
from prism.models import SearchFilters
from prism.retrieve.query import ParsedQuery

MAX_TERMS_SHORT = 24
MAX_TERMS_LONG = 40
MAX_REPEAT = 3  # a long query's best terms weigh up to 3 in the BM25 sum
PRUNE_FACTOR = 15  # the rare terms that gate a large match cover up to 15× the hits kept
TITLE_BOOST = 1.5  # long queries: words of the first line (an issue's title) say what it is about

_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do",
    "does", "doing", "done", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into",
    "is", "it", "its", "it's", "me", "my", "no", "not", "of", "on", "or", "our", "should", "so",
    "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "to", "too", "was", "we", "were", "what", "when", "where", "which", "while",
    "who", "why", "will", "with", "would", "you", "your", "also", "just", "only", "very", "get",
    "got", "use", "used", "using", "like", "one", "two", "any", "all", "each", "other", "more",
    "most", "same", "see", "seems", "way", "want", "need", "needs", "make", "made", "work",
    "works", "working", "expected", "actual", "behaviour", "behavior", "instead", "here", "now",
    "however", "still", "may", "might", "e", "g", "eg", "ie", "etc", "s", "t", "d", "m", "ll",
    "re", "ve", "x", "y",
})


@dataclass(frozen=True)
class LexicalQuery:
    """What the store is asked: each term with its BM25 weight, and the terms a row must hold
    one of to be scored (empty: every row holding a term); `terms` is where they came from."""

    weighted: tuple[WeightedTerm, ...]
    terms: tuple[tuple[str, float], ...]
    require: tuple[str, ...] = ()


def select_terms(query: ParsedQuery, doc_counts: dict[str, int], total: int,
                 title_boost: float = TITLE_BOOST) -> list[tuple[str, float]]:
    """The query's most informative terms with their weights, best first.

    In a long query (an issue text) the first line is its title: its words weigh `title_boost`×.
    """
    counts = query.term_counts
    boosted: Counter[str] = Counter()
    for name in (*query.identifiers, *query.qualified, *query.paths,
                 *(f.function for f in query.frames), *query.errors):
        for term in lexical_terms(name):
            boosted[term] += 1
    title = set(lexical_terms(query.text.lstrip().split("\n", 1)[0])) if query.is_long else set()
    scored: list[tuple[str, float]] = []
    common: list[tuple[str, float]] = []
    n = max(total, 1)
    for term, tf in counts.items():
        if term in _STOPWORDS or len(term) < 2 or term.isdigit():
            continue
        df = doc_counts.get(term, 0)
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        weight = idf * (1 + math.log(tf)) * (1.5 if boosted[term] else 1.0)
        weight *= title_boost if term in title else 1.0
        # Near-universal words only slow FTS down, unless they are all there is (a tiny index).
        (common if df > 0.3 * n and not boosted[term] else scored).append((term, weight))
    scored = scored or common
    scored.sort(key=lambda tw: (-tw[1], tw[0]))
    return scored[: MAX_TERMS_LONG if query.is_long else MAX_TERMS_SHORT]


def build_query(query: ParsedQuery, store: LexicalIndex, title_boost: float = TITLE_BOOST,
                limit: int | None = None) -> LexicalQuery | None:
    """The weighted terms for a parsed query, or None when no term is in the index.

    With `limit` (the hits that will be kept) a match that would score far more rows than
    that is gated on its rarer terms (see the module docstring).
    """
    distinct = sorted({t for t in query.terms if t not in _STOPWORDS})
    if not distinct:
        return None
    doc_counts = store.document_frequencies(distinct)
    chosen = select_terms(query, doc_counts, store.count_chunks(), title_boost)
    if not chosen:
        return None
    top = chosen[0][1]
    repeats: dict[str, int] = {}
    for term, weight in chosen:
        share = round(MAX_REPEAT * weight / top)
        repeats[term] = 1 if not query.is_long else max(1, min(MAX_REPEAT, share))
    gate = _gate_terms(repeats, doc_counts, PRUNE_FACTOR * limit) if limit else []
    return LexicalQuery(tuple(repeats.items()), tuple(chosen), tuple(gate))


def _gate_terms(repeats: dict[str, int], doc_counts: dict[str, int], cover: int) -> list[str]:
    """The rarest terms, until their chunk counts add up to `cover` or the next term alone
    exceeds it (a word in 20k chunks adds nothing but noise to the top hits of a name found in
    ten); [] when that takes every term."""
    gate: list[str] = []
    covered = 0
    for term in sorted(repeats, key=lambda t: (doc_counts.get(t, 0), t)):
        count = doc_counts.get(term, 0)
        if covered >= cover or (gate and count > cover):
            return gate
        gate.append(term)
        covered += count
    return []


def search_lexical(query: ParsedQuery, store: LexicalIndex, limit: int,
                   filters: SearchFilters | None = None,
                   title_boost: float = TITLE_BOOST) -> list[tuple[int, float]]:
    """(chunk id, BM25 score) best first; empty when the query has no indexed term."""
    built = build_query(query, store, title_boost, limit)
    if built is None:
        return []
    return store.lexical(built.weighted, limit, filters, built.require)
