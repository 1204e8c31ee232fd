"""Congruence: the same tree indexed on SQLite and on PostgreSQL answers the same (qdrant-client's
`tests/congruence_tests` is the model: one set of calls, two backends, results compared).

The tree is this repository's `src/prism/index` and `src/prism/retrieve` (about 40 real files,
a few hundred chunks), copied once per module and indexed with the hashing embedder on both
backends (one module-scoped pair of engines: CI has 2 cores).

Both stores compute the same BM25 (PostgreSQL runs FTS5's bm25() formula in SQL over the same
terms, column weights and counts), so almost everything is compared for equality:
- the stored chunks (path, lines, name, kind, content, hash, refs), file states, stats, and the
  document frequency of every term;
- lexical scores, equal to 1e-9 (relative): the same sums in float64, added in another order;
- ranked lists — lexical, hybrid (the default), files mode, filtered, and find_symbol — equal as
  lists: with equal scores, ties fall back to insertion order on both (ids ascend as chunks are
  written, in the same order);
- context packs: packing reads up to 100 hits, and past the top 10 the two stores' scores may
  differ in the last bits (the same BM25 terms summed in another order), which can swap chunks
  that tie exactly; a swap changes what is degraded and what fits at the budget's edge. Seen
  once in several runs (a separate run gave identical packs), so the packed chunks (path, lines)
  must overlap by Jaccard ≥ PACK_OVERLAP (0.8; 0.80–1.0 measured) and both fit the budget;
- dense-only search: cosine similarities equal to 1e-5 (pgvector computes in float32, numpy
  sums float32 products differently) and the same top-10 *set* (two chunks within 1e-5 of each
  other may swap). HNSW is approximate in general; over a few hundred rows with ef_search 1000
  it visits every row, so here it must find exactly what the brute-force scan finds.
Overlap@10 is kept as the reported measure (OVERLAP_FLOOR = 1.0 here): at the issue's scale
HNSW recall is below 1 and benchmarks/pg_search.py measures it instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from prism.config import Settings
from prism.engine import Prism
from prism.index.store import Store
from prism.models import SearchFilters, StoredChunk
from prism.retrieve.search import SearchConfig

SOURCE = Path(__file__).resolve().parents[2] / "src" / "prism"
TREE = ("index", "retrieve")
OVERLAP_FLOOR = 1.0
PACK_OVERLAP = 0.8
QUERIES = (
    "lexical search with filters",
    "where are document frequencies counted",
    "reciprocal rank fusion of rankings",
    "embedding vectors nearest neighbours cosine",
    "backup and restore the index",
    "write_files replaces the chunks of each file",
    "PostgresStore migrate schema",
    "identifier aware terms split camelCase",
    "how is the query parsed into terms",
    "the code graph refs who calls a function",
)
FILTERS = (
    SearchFilters(path="retrieve"),
    SearchFilters(path="index/**/sqlite*.py"),
    SearchFilters(kinds=("class",)),
    SearchFilters(languages=("python",), kinds=("function", "method")),
)
SYMBOLS = ("lexical_terms", "SqliteStore", "PostgresStore.nearest", "find_symbol", "Searcher")


@dataclass
class Pair:
    sqlite: Prism
    postgres: Prism


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("congruence")
    root = folder / "tree"
    for part in TREE:
        shutil.copytree(SOURCE / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    engines = []
    for name, url in (("sqlite", None), ("postgres", postgres_url)):
        settings = Settings(home=folder / f"home-{name}", embedder="hashing", shared_embedding_cache=False,
                            database_url=url)
        engine = Prism(root, settings=settings, index_dir=folder / f"congruence-{folder.name}-{name}")
        engine.index()
        engines.append(engine)
    yield Pair(*engines)
    engines[1].forget()
    for engine in engines:
        engine.close()


def key(sc: StoredChunk) -> tuple[str, int, int, str]:
    """A chunk's identity across backends (ids are each store's own)."""
    return sc.chunk.path, sc.chunk.start_line, sc.chunk.end_line, sc.chunk.content_hash


def ranked(engine: Prism, query: str, **options: object) -> list[tuple[str, int, int, str]]:
    return [key(hit.chunk) for hit in engine.search(query, limit=10, **options).hits]  # type: ignore[arg-type]


def overlap(a: list[tuple[str, int, int, str]], b: list[tuple[str, int, int, str]]) -> float:
    """|top-k ∩ top-k| / k, k the longer list (two empty lists agree)."""
    k = max(len(a), len(b))
    return 1.0 if k == 0 else len(set(a) & set(b)) / k


def stores(pair: Pair) -> tuple[Store, Store]:
    return pair.sqlite.store, pair.postgres.store


# -- exact ------------------------------------------------------------------------------------

def test_the_same_chunks_are_stored(pair: Pair) -> None:
    lite, pg = stores(pair)
    assert lite.stats()["chunks"] > 200  # a real tree, not a toy
    def rows(store: Store) -> list[tuple[object, ...]]:
        return sorted((*key(sc), sc.chunk.name, sc.chunk.kind, sc.chunk.content, sc.chunk.qualified_name,
                       sc.chunk.calls, sc.chunk.imports, sc.file_sha256) for sc in store.iter_chunks())
    assert rows(lite) == rows(pg)
    assert {p: (s.sha256, s.size, s.mtime) for p, s in lite.file_states().items()} == {
        p: (s.sha256, s.size, s.mtime) for p, s in pg.file_states().items()}
    lite_stats, pg_stats = lite.stats(), pg.stats()
    for field in ("files", "chunks", "tokens", "languages", "partial_files"):
        assert lite_stats[field] == pg_stats[field], field


def test_document_frequencies_agree_on_every_term(pair: Pair) -> None:
    from prism.index.terms import lexical_terms

    lite, pg = stores(pair)
    terms = sorted({t for sc in lite.iter_chunks() for t in lexical_terms(sc.chunk.content)})
    assert len(terms) > 500
    assert lite.document_frequencies(terms) == pg.document_frequencies(terms)


def test_the_same_vectors_are_stored(pair: Pair) -> None:
    lite, pg = stores(pair)
    model = pair.sqlite.embedder.model_id
    assert lite.get_meta("embed_model") == pg.get_meta("embed_model") == model
    assert lite.count_pending_embeddings(model) == pg.count_pending_embeddings(model) == 0
    for query in QUERIES[:3]:
        row = np.atleast_2d(np.asarray(pair.sqlite.embedder.embed_query(query), dtype=np.float32))
        a = lite.nearest(model, row, 10)
        b = pg.nearest(model, row, 10)
        np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-5)
        by_key_a = {key(sc) for sc in lite.get_chunks([i for i, _ in a])}
        by_key_b = {key(sc) for sc in pg.get_chunks([i for i, _ in b])}
        assert by_key_a == by_key_b


@pytest.mark.parametrize("name", SYMBOLS)
def test_find_symbol_is_identical(pair: Pair, name: str) -> None:
    a, b = pair.sqlite.find_symbol(name), pair.postgres.find_symbol(name)
    assert a.definitions, name
    for part in ("definitions", "callers", "importers"):
        assert sorted(map(key, getattr(a, part))) == sorted(map(key, getattr(b, part))), part


# -- rankings -----------------------------------------------------------------------------------

def test_lexical_scores_are_the_same(pair: Pair) -> None:
    from prism.index.terms import lexical_terms

    lite, pg = stores(pair)
    for query in QUERIES:
        terms = [(t, 1 + (i % 2)) for i, t in enumerate(dict.fromkeys(lexical_terms(query)))]
        a, b = lite.lexical(terms, 20), pg.lexical(terms, 20)
        assert a, query
        np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=1e-9)
        assert [key(sc) for sc in lite.get_chunks([i for i, _ in a])] == [
            key(sc) for sc in pg.get_chunks([i for i, _ in b])], query
        required = terms[:1]
        gated_a = lite.lexical(terms, 20, require=[t for t, _ in required])
        gated_b = pg.lexical(terms, 20, require=[t for t, _ in required])
        np.testing.assert_allclose([s for _, s in gated_a], [s for _, s in gated_b], rtol=1e-9)


@pytest.mark.parametrize("config", [SearchConfig(dense=False), SearchConfig()], ids=["lexical", "hybrid"])
@pytest.mark.parametrize("files", [False, True], ids=["chunks", "files"])
def test_search_ranks_the_same(pair: Pair, config: SearchConfig, files: bool) -> None:
    for query in QUERIES:
        a = ranked(pair.sqlite, query, files=files, config=config)
        b = ranked(pair.postgres, query, files=files, config=config)
        assert a and overlap(a, b) >= OVERLAP_FLOOR and a == b, (query, a, b)


def test_dense_search_finds_the_same_set(pair: Pair) -> None:
    config = SearchConfig(lexical=False, exact=False)
    for query in QUERIES:
        a, b = ranked(pair.sqlite, query, config=config), ranked(pair.postgres, query, config=config)
        assert a and overlap(a, b) >= OVERLAP_FLOOR, query


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.path or "+".join(f.kinds)))
def test_filtered_search_ranks_the_same_and_passes_the_filters(pair: Pair, filters: SearchFilters) -> None:
    for query in QUERIES[:5]:
        a = pair.sqlite.search(query, limit=10, filters=filters).hits
        b = pair.postgres.search(query, limit=10, filters=filters).hits
        assert a, (query, filters)
        for hit in (*a, *b):
            assert not filters.kinds or hit.chunk.chunk.kind in filters.kinds
            assert filters.path != "retrieve" or hit.chunk.chunk.path.startswith("retrieve/")
            assert "*" not in (filters.path or "") or "/sqlite" in hit.chunk.chunk.path
        assert [key(h.chunk) for h in a] == [key(h.chunk) for h in b], (query, filters)


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_context_packs_overlap(pair: Pair, fmt: str) -> None:
    for query in QUERIES[:4]:
        a = pair.sqlite.context(query, budget_tokens=3000, fmt=fmt, record_usage=False)
        b = pair.postgres.context(query, budget_tokens=3000, fmt=fmt, record_usage=False)
        assert 0 < a.tokens <= 3000 and 0 < b.tokens <= 3000, query
        ka = {(c.path, c.start_line, c.end_line) for c in a.chunks}
        kb = {(c.path, c.start_line, c.end_line) for c in b.chunks}
        assert len(ka & kb) / len(ka | kb) >= PACK_OVERLAP, (query, ka ^ kb)
