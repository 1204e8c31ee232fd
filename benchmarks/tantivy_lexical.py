"""PRISM's lexical stage answered by tantivy instead of SQLite FTS5, over the same chunk terms.

Benchmark code only (`lexical_engine_ab.py`): tantivy is not a PRISM dependency. Install it in
a separate environment, `pip install -e '.[bench]'` (tantivy 0.27.0, MIT, abi3 wheel).

The documents are the rows of a PRISM index's `chunks_fts` table: the identifier-split terms
`index/terms.chunk_terms` wrote (path, symbol, doc, body), already lower-case and
space-separated, so tantivy's whitespace tokenizer yields exactly the terms FTS5's unicode61 did
(both see only [a-z0-9] words). Two layouts:

- `pooled`: one field holding each column's terms repeated by its FTS5 column weight
  (path 3×, symbol 6×, doc 2×, body 1×). FTS5's bm25() pools the columns the same way: a term's
  frequency is the weighted sum of its column counts, its IDF counts chunks holding it in any
  column. The differences left: FTS5 normalises by the unweighted chunk length (here the
  weighted one), its IDF is log((N-n+.5)/(n+.5)) (tantivy's log(1+(N-n+.5)/(n+.5))), and
  tantivy stores lengths in one byte (lossy). k1 = 1.2, b = 0.75 in both.
- `fields`: four fields with their own length norms, a term scored in each, boosted by the
  column weight (tantivy's natural multi-field BM25).

A query term of weight n is one boosted term query (FTS5 lists it n times); a gate
(`require`) is a zero-scored must-clause, so gated scores equal the plain OR's.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import tantivy

from prism.index.sqlite import FTS_WEIGHTS
from prism.index.store import WeightedTerm
from prism.models import SearchFilters

COLUMNS = ("path", "symbol", "doc", "body")
LAYOUTS = ("pooled", "fields")
TermRow = tuple[int, str, str, str, str]  # chunk id and its four full-text columns
WRITER_HEAP = 256 * 1024 * 1024


def read_term_rows(db: Path) -> Iterator[TermRow]:
    """The `chunks_fts` rows of a PRISM SQLite index, read over a read-only connection."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        yield from conn.execute("SELECT rowid, path, symbol, doc, body FROM chunks_fts ORDER BY rowid")
    finally:
        conn.close()


def _schema(layout: str) -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("id", stored=False, indexed=True, fast=True)  # indexed: deletable by id
    # Term frequencies, no positions: BM25 needs nothing more (FTS5 keeps positions, detail=full).
    names = ("t",) if layout == "pooled" else COLUMNS
    for name in names:
        builder.add_text_field(name, stored=False, tokenizer_name="whitespace", index_option="freq")
    return builder.build()


def _pooled_text(row: TermRow) -> str:
    return " ".join(" ".join([col] * int(w)) for col, w in zip(row[1:], FTS_WEIGHTS, strict=True) if col)


class TantivyLexical:
    """A tantivy index of chunk terms answering `LexicalIndex.lexical` (chunk id, score)."""

    def __init__(self, folder: Path, layout: str) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
        self.folder = folder
        self.layout = layout
        self._schema = _schema(layout)
        self._index = tantivy.Index(self._schema, path=str(folder), reuse=True)
        self._index.reload()
        self._searcher = self._index.searcher()
        self._writer: Any = None

    @classmethod
    def build(cls, rows: Iterable[TermRow], folder: Path, layout: str, threads: int = 1) -> TantivyLexical:
        """A fresh index of `rows` in `folder` (replaced), one commit, merges finished."""
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        index = tantivy.Index(_schema(layout), path=str(folder), reuse=False)
        writer = index.writer(WRITER_HEAP, threads)
        for row in rows:
            writer.add_document(_document(row, layout))
        writer.commit()
        writer.wait_merging_threads()
        return cls(folder, layout)

    def write(self, rows: Sequence[TermRow]) -> None:
        """Replace these chunks' documents (by id) and make them visible: one commit, one reload."""
        if self._writer is None:
            self._writer = self._index.writer(64 * 1024 * 1024, 1)
        for row in rows:
            # by query: delete_documents_by_term reads a Python int as i64 and matches no u64 id
            self._writer.delete_documents_by_query(tantivy.Query.term_query(self._schema, "id", row[0]))
            self._writer.add_document(_document(row, self.layout))
        self._writer.commit()
        self._index.reload()
        self._searcher = self._index.searcher()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.wait_merging_threads()
            self._writer = None

    def num_segments(self) -> int:
        return int(self._searcher.num_segments)

    def num_docs(self) -> int:
        return int(self._searcher.num_docs)

    def query(self, terms: Sequence[WeightedTerm], require: Sequence[str] = ()) -> Any:
        """The boolean query scoring `terms` (BM25 × weight), restricted to rows holding a `require` term."""
        should = [(tantivy.Occur.Should, q) for t, n in terms for q in self._term_queries(t, float(n))]
        scored = tantivy.Query.boolean_query(should)
        if not require:
            return scored
        gate = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, q) for t in require for q in self._term_queries(t, 1.0)]
        )
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, tantivy.Query.const_score_query(gate, 0.0)), (tantivy.Occur.Should, scored)]
        )

    def _term_queries(self, term: str, weight: float) -> list[Any]:
        if self.layout == "pooled":
            query = tantivy.Query.term_query(self._schema, "t", term, index_option="freq")
            return [query if weight == 1.0 else tantivy.Query.boost_query(query, weight)]
        return [
            tantivy.Query.boost_query(
                tantivy.Query.term_query(self._schema, col, term, index_option="freq"), weight * w
            )
            for col, w in zip(COLUMNS, FTS_WEIGHTS, strict=True)
        ]

    def lexical(
        self,
        terms: Sequence[WeightedTerm],
        limit: int,
        filters: SearchFilters | None = None,
        require: Sequence[str] = (),
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) best first, as `SqliteStore.lexical` (no filters: see TantivyStore)."""
        if filters is not None:
            raise ValueError("TantivyLexical has no filters; TantivyStore sends filtered searches to FTS5")
        if not terms:
            return []
        found = self._searcher.search(self.query(terms, require), limit, count=False)
        if not found.hits:
            return []
        ids = self._searcher.fast_field_values("id", [addr for _, addr in found.hits])
        return [(cid, float(score)) for (score, _), cid in zip(found.hits, ids, strict=True) if isinstance(cid, int)]


def _document(row: TermRow, layout: str) -> Any:
    doc = tantivy.Document()
    doc.add_unsigned("id", row[0])
    if layout == "pooled":
        doc.add_text("t", _pooled_text(row))
    else:
        for col, text in zip(COLUMNS, row[1:], strict=True):
            doc.add_text(col, text)
    return doc


class TantivyStore:
    """A PRISM store whose unfiltered lexical search is answered by tantivy; everything else
    (heads, document counts for IDF, filtered searches) by the wrapped store."""

    def __init__(self, store: Any, engine: TantivyLexical) -> None:
        self._store = store
        self._engine = engine

    def lexical(
        self,
        terms: Sequence[WeightedTerm],
        limit: int,
        filters: SearchFilters | None = None,
        require: Sequence[str] = (),
    ) -> list[tuple[int, float]]:
        if filters is not None:
            return list(self._store.lexical(terms, limit, filters, require))
        return self._engine.lexical(terms, limit, None, require)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
