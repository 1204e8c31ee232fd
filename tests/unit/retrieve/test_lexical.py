"""Tests for prism.retrieve.lexical: term selection and the FTS5 expression for long queries."""

from __future__ import annotations

from prism.models import SearchFilters
from prism.retrieve.lexical import build_query, select_terms
from prism.retrieve.query import parse_query

ISSUE = ("Extra space when first field moved to new line\n\n"
         + "I ran the formatter on my project and looked at the output carefully. " * 8
         + "The statement ends up with one more column than the others.")


class _Counts:
    """A store that knows document frequencies only (all the query builder reads)."""

    def __init__(self, counts: dict[str, int], total: int) -> None:
        self.counts, self.total = counts, total

    def term_document_counts(self, terms: list[str]) -> dict[str, int]:
        return {t: self.counts.get(t, 5) for t in terms}

    def count_chunks(self) -> int:
        return self.total

    def search_fts(self, match: str, limit: int, filters: SearchFilters | None = None,
                   weights: tuple[float, float, float, float] = (1, 1, 1, 1)) -> list[tuple[int, float]]:
        return []


def test_title_words_outrank_equally_rare_body_words() -> None:
    query = parse_query(ISSUE)
    assert query.is_long
    counts = {"space": 50, "column": 50, "moved": 50, "statement": 50}
    plain = dict(select_terms(query, counts, 10_000, title_boost=1.0))
    boosted = dict(select_terms(query, counts, 10_000, title_boost=1.5))
    assert plain["space"] == plain["column"]
    assert boosted["space"] == 1.5 * boosted["column"]
    assert boosted["moved"] > boosted["statement"]


def test_short_queries_ignore_the_title_boost() -> None:
    query = parse_query("extra space in select")
    counts = {"extra": 50, "space": 50, "select": 50}
    assert select_terms(query, counts, 10_000, 1.0) == select_terms(query, counts, 10_000, 3.0)


def test_stopwords_and_unknown_terms_never_reach_the_match() -> None:
    store = _Counts({"refreshed": 3, "tokens": 9, "nowhere": 0}, 1_000)
    built = build_query(parse_query("where are the tokens refreshed nowhere"), store)
    assert built is not None
    assert built.match == '"refreshed" OR "tokens"'
    assert build_query(parse_query("the and of"), store) is None
