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
from prism.retrieve.query import ParsedQuery, prose_words

MAX_TERMS_SHORT = 24
MAX_TERMS_LONG = 40
MAX_REPEAT = 3  # a long query's best terms weigh up to 3 in the BM25 sum
PRUNE_FACTOR = 15  # the rare terms that gate a large match cover up to 15× the hits kept
TITLE_BOOST = 1.5  # long queries: words of the first line (an issue's title) say what it is about
# Prose words of short queries also matching their plural/singular and -ed/-ing forms (at half
# weight): measured and off. CoSQA dev lexical MRR 32.46 → 31.26, full 50.55 → 50.97 but R@10
# 79.6 → 78.8; on issue texts file Acc@5 86.4 → 81.8 (benchmarks/results/ranking_misses.md).
FOLD_SUFFIXES = False
VARIANT_SHARE = 0.5  # a folded form weighs half the word as written

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


def suffix_variants(word: str) -> tuple[str, ...]:
    """Other inflections of a lower-case prose word: 'redirects' → 'redirect'; 'followed' →
    'follow', 'followe'; 'parse' → 'parses', 'parsed', 'parsing'. Only the forms found in the
    index are ever searched, so over-generating costs one vocabulary lookup."""
    if len(word) < 4 or not word.isalpha():
        return ()
    stems: list[str] = []
    if word.endswith("ies"):
        stems.append(word[:-3] + "y")
    elif word.endswith("es"):
        stems += [word[:-2], word[:-1]]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        stems.append(word[:-1])
    elif word.endswith("ed"):
        stems += [word[:-2], word[:-1]]
        if len(word) > 5 and word[-3] == word[-4]:
            stems.append(word[:-3])  # stopped → stop
    elif word.endswith("ing") and len(word) > 5:
        stems += [word[:-3], word[:-3] + "e"]
    else:
        stems.append(word)
    out = [f for stem in stems if len(stem) >= 3
           for f in (stem, stem + "s", stem + "ed", stem + "ing")
           + ((stem[:-1] + "ed", stem[:-1] + "ing") if stem.endswith("e") else ())]
    return tuple(f for f in dict.fromkeys(out) if f != word)


def _prose_variants(query: ParsedQuery) -> dict[str, tuple[str, ...]]:
    """Folded forms of the query's prose words (never of identifiers: `parse_args` is exact)."""
    if not FOLD_SUFFIXES:
        return {}
    words = {w.lower() for w in prose_words(query) if w.isalpha() and w.islower()}
    return {w: v for w in sorted(words - _STOPWORDS) if (v := suffix_variants(w))}


def _with_variants(chosen: list[tuple[str, float]], variants: dict[str, tuple[str, ...]],
                   doc_counts: dict[str, int], total: int) -> list[tuple[str, float]]:
    """The chosen terms, then the prose words' indexed variants at `VARIANT_SHARE` of their IDF
    (also when the word as written is not in the index: "redirected" finds "redirect")."""
    have = {t for t, _ in chosen}
    extra: dict[str, float] = {}
    n = max(total, 1)
    for word, forms in variants.items():
        if doc_counts.get(word, 0) > 0.3 * n:  # dropped as near-universal: so are its forms
            continue
        for form in forms:
            df = doc_counts.get(form, 0)
            if df == 0 or form in have or df > 0.3 * n:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            extra[form] = max(extra.get(form, 0.0), VARIANT_SHARE * idf)
    return chosen + sorted(extra.items(), key=lambda tw: (-tw[1], tw[0]))


def build_query(query: ParsedQuery, store: LexicalIndex, title_boost: float = TITLE_BOOST,
                limit: int | None = None) -> LexicalQuery | None:
    """The weighted terms for a parsed query, or None when no term is in the index.

    With `limit` (the hits that will be kept) a match that would score far more rows than
    that is gated on its rarer terms (see the module docstring).
    """
    distinct = sorted({t for t in query.terms if t not in _STOPWORDS})
    if not distinct:
        return None
    variants = {} if query.is_long else _prose_variants(query)
    forms = sorted({f for fs in variants.values() for f in fs} - set(distinct))
    doc_counts = store.document_frequencies(distinct + forms)
    total = store.count_chunks()
    chosen = select_terms(query, doc_counts, total, title_boost)
    written = len(chosen)
    chosen = _with_variants(chosen, variants, doc_counts, total)
    if not chosen:
        return None
    top = chosen[0][1]
    repeats: dict[str, int] = {}
    for i, (term, weight) in enumerate(chosen):
        share = round(MAX_REPEAT * weight / top)
        if query.is_long:
            repeats[term] = max(1, min(MAX_REPEAT, share))
        else:  # a short query's words weigh alike; folded forms half as much
            repeats[term] = 1 if i >= written or len(chosen) == written else 2
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
