"""Tests for prism.retrieve.lexical: term selection, weights and the gate, and the FTS5 expression they become."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism.config import Settings
from prism.engine import Prism
from prism.index.sqlite import SqliteStore, fts_match
from prism.index.store import WeightedTerm
from prism.models import SearchFilters
from prism.retrieve import lexical
from prism.retrieve.lexical import build_query, search_lexical, select_terms
from prism.retrieve.query import parse_query

ISSUE = ("Extra space when first field moved to new line\n\n"
         + "I ran the formatter on my project and looked at the output carefully. " * 8
         + "The statement ends up with one more column than the others.")


class _Counts:
    """A store that knows document frequencies only (all the query builder reads)."""

    def __init__(self, counts: dict[str, int], total: int) -> None:
        self.counts, self.total = counts, total

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        return {t: self.counts[t] for t in terms if t in self.counts}

    def count_chunks(self) -> int:
        return self.total

    def lexical(self, terms: list[WeightedTerm], limit: int, filters: SearchFilters | None = None,
                require: tuple[str, ...] = ()) -> list[tuple[int, float]]:
        return []

    def rank_files(self, terms: list[str], limit: int) -> dict[str, int]:
        return {}


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


def test_a_tiny_index_still_matches_words_found_in_every_chunk(tmp_path: Path) -> None:
    """On a two-chunk index each query word is in every chunk: dropping them all as
    near-universal answered nothing until vectors existed (the flaky MCP roots test)."""
    (tmp_path / "core.py").write_text('def beta_value(x):\n    """Compute the beta value."""\n    return x\n\n\n'
                                      "def caller():\n    return beta_value(3)\n")
    with Prism(tmp_path, settings=Settings(home=tmp_path / "home", embedder="hashing", embed=False)) as prism:
        prism.index()
        hits = prism.search("beta value").hits
    assert hits and hits[0].chunk.chunk.start_line == 1
    counts = {"beta": 2, "value": 2}
    assert {t for t, _ in select_terms(parse_query("beta value"), counts, 2)} == {"beta", "value"}
    assert [t for t, _ in select_terms(parse_query("beta rare"), {"beta": 9, "rare": 1}, 10)] == ["rare"]


def test_stopwords_and_unknown_terms_never_reach_the_match() -> None:
    store = _Counts({"refreshed": 3, "tokens": 9, "nowhere": 0}, 1_000)
    built = build_query(parse_query("where are the tokens refreshed nowhere"), store)
    assert built is not None
    assert built.weighted == (("refreshed", 1), ("tokens", 1)) and built.require == ()
    assert fts_match(built.weighted) == ('"refreshed" OR "tokens"', 1.0)
    assert build_query(parse_query("the and of"), store) is None


def test_a_match_far_larger_than_the_hits_kept_is_gated_on_its_rare_terms() -> None:
    store = _Counts({"lines": 9_000, "select": 6_000, "iterable": 40, "variable": 700}, 20_000)
    query = parse_query("lines if a variable is iterable select")
    plain = build_query(query, store)
    gated = build_query(query, store, limit=50)  # cover 750 chunks: iterable (40) + variable (700)
    assert plain is not None and gated is not None
    plain_match, plain_scale = fts_match(plain.weighted, plain.require)
    assert plain_scale == 1.0 and " AND " not in plain_match
    assert gated.require == ("iterable", "variable")
    gated_match, gated_scale = fts_match(gated.weighted, gated.require)
    assert gated_scale == 2.0
    left, right = gated_match.split(" AND ")
    assert left == '("iterable" OR "variable")'
    every = left.count('"iterable"') + right.count('"iterable"')
    assert every == 2 and right.count('"select"') == 2  # every term twice: BM25 exactly doubled
    wide = build_query(query, store, limit=5_000)
    assert wide is not None and wide.require == ()  # the rare terms would not cover it
    narrow = build_query(query, store, limit=40)  # cover 600: "variable" alone (700) exceeds it
    assert narrow is not None and fts_match(narrow.weighted, narrow.require)[0].startswith('("iterable") AND (')


def test_gated_scores_equal_the_plain_or_for_the_rows_they_keep(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    for i in range(300):  # "common" in a quarter of the files, "parse" in 30, "tokenizer" in 6
        words = [w for w, every in (("common", 4), ("parse", 10), ("tokenizer", 50)) if i % every == 0]
        body = "".join(f"    {w}_{i} = {i}\n" for w in words) or "    pass\n"
        (root / f"m{i}.py").write_text(f"def f{i}(value):\n{body}")
    prism = Prism(root, settings=Settings(home=tmp_path / "home", embedder="hashing"))
    prism.index(embed=False)
    store = prism.store
    assert isinstance(store, SqliteStore)
    query = parse_query("parse common tokenizer")
    plain = build_query(query, store)
    gated = build_query(query, store, limit=1)  # cover 15 chunks: tokenizer (6); parse (30) alone exceeds it
    assert plain is not None and gated is not None and gated.require == ("tokenizer",)
    full = dict(store.lexical(plain.weighted, 200))
    gated_match, scale = fts_match(gated.weighted, gated.require)
    assert scale == 2.0
    kept = store.search_fts(gated_match, 1_000)
    assert len(kept) == 6 < len(full) == 90  # rows without "tokenizer" are never scored
    for cid, score in kept:
        assert abs(score / scale - full[cid]) < 1e-9
    assert store.lexical(gated.weighted, 1_000, require=gated.require) == [(c, s / scale) for c, s in kept]
    best = search_lexical(query, store, 1)
    assert best[0][0] == kept[0][0] and abs(best[0][1] - max(full.values())) < 1e-9
    prism.close()


def test_prose_words_also_match_their_other_forms_and_identifiers_never_do(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Suffix folding is measured and off by default (see FOLD_SUFFIXES); this is what it does."""
    store = _Counts({"redirects": 30, "redirect": 40}, 10_000)
    assert dict(build_query(parse_query("where are redirects followed"), store).weighted) == {"redirects": 1}
    monkeypatch.setattr(lexical, "FOLD_SUFFIXES", True)
    store = _Counts({"redirects": 30, "redirect": 40, "follow": 20, "followed": 10, "parse": 50,
                     "args": 60, "parseargs": 2, "parses": 3}, 10_000)
    built = build_query(parse_query("where are redirects followed"), store)
    assert built is not None
    weights = dict(built.weighted)
    assert weights == {"followed": 2, "redirects": 2, "follow": 1, "redirect": 1}
    code = build_query(parse_query("parse_args fails"), store)  # an identifier is exact
    assert code is not None and "parses" not in dict(code.weighted)
    only_other_form = build_query(parse_query("redirected responses"), store)
    assert only_other_form is not None and dict(only_other_form.weighted) == {"redirect": 1, "redirects": 1}


def test_suffix_variants_fold_plurals_and_verb_forms() -> None:
    from prism.retrieve.lexical import suffix_variants

    assert "redirect" in suffix_variants("redirects")
    assert {"follow", "following"} <= set(suffix_variants("followed"))
    assert {"dependency"} <= set(suffix_variants("dependencies"))
    assert {"parses", "parsed", "parsing"} <= set(suffix_variants("parse"))
    assert suffix_variants("class") == ("classs", "classed", "classing")  # only indexed forms count
    assert suffix_variants("get") == () and suffix_variants("utf8") == ()
