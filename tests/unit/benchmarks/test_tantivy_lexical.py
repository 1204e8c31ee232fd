"""The tantivy side of the lexical engine A/B must ask what FTS5 is asked: same terms, weights, gate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prism.engine import Prism
from prism.models import SearchFilters
from repos import lexical_prism

pytest.importorskip("tantivy", reason="benchmark-only engine: pip install -e '.[bench]'")

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from tantivy_lexical import TantivyLexical, TantivyStore, read_term_rows

FILES = {
    "app/config.py": "def parse_config(path):\n    '''Read the config file.'''\n    return open(path).read()\n",
    "app/server.py": "class HttpServer:\n    def start(self, port):\n        return parse_port(port)\n",
    "app/ports.py": "def parse_port(text):\n    return int(text)\n\ndef format_port(port):\n    return str(port)\n",
    "docs/notes.py": "# config config config: the port is read from the config\nVALUE = 1\n",
}


@pytest.fixture
def prism(tmp_path: Path) -> Prism:
    return lexical_prism(tmp_path / "repo", tmp_path / "home", FILES)


def _engine(prism: Prism, tmp_path: Path, layout: str = "pooled") -> TantivyLexical:
    db = Path(prism.store.path)  # type: ignore[attr-defined]
    return TantivyLexical.build(read_term_rows(db), tmp_path / f"tantivy-{layout}", layout)


def _path(prism: Prism, cid: int) -> str:
    return prism.store.get_chunks([cid])[0].chunk.path


@pytest.mark.parametrize("layout", ["pooled", "fields"])
def test_every_chunk_is_a_document_and_an_identifier_finds_its_definition(
    prism: Prism, tmp_path: Path, layout: str
) -> None:
    engine = _engine(prism, tmp_path, layout)
    assert engine.num_docs() == prism.store.count_chunks()
    hits = engine.lexical([("parseconfig", 1), ("config", 1)], 10)
    assert _path(prism, hits[0][0]) == "app/config.py"
    assert prism.store.lexical([("parseconfig", 1), ("config", 1)], 10)[0][0] == hits[0][0]


def test_a_weight_multiplies_the_term_score_as_fts5_repetition_does(prism: Prism, tmp_path: Path) -> None:
    engine = _engine(prism, tmp_path)
    once = dict(engine.lexical([("port", 1)], 10))
    twice = dict(engine.lexical([("port", 2)], 10))
    assert once.keys() == twice.keys() and once
    assert all(twice[c] == pytest.approx(2 * once[c], rel=1e-5) for c in once)


def test_the_gate_keeps_only_rows_holding_a_required_term_with_their_plain_scores(prism: Prism, tmp_path: Path) -> None:
    engine = _engine(prism, tmp_path)
    terms = [("port", 1), ("config", 1)]
    plain = dict(engine.lexical(terms, 50))
    gated = dict(engine.lexical(terms, 50, require=["config"]))
    holding = {c for c in plain if _path(prism, c) in ("app/config.py", "docs/notes.py")}  # the files saying config
    assert set(gated) == holding and holding != set(plain)
    assert all(gated[c] == pytest.approx(plain[c], rel=1e-6) for c in gated)


def test_write_replaces_a_chunk_by_id(prism: Prism, tmp_path: Path) -> None:
    engine = _engine(prism, tmp_path)
    db = Path(prism.store.path)  # type: ignore[attr-defined]
    row = next(r for r in read_term_rows(db) if "parse config" in r[2])
    engine.write([(row[0], row[1], "load settings", "", "load settings")])
    try:
        assert engine.num_docs() == prism.store.count_chunks()
        assert row[0] not in dict(engine.lexical([("parseconfig", 1)], 10))
        assert engine.lexical([("settings", 1)], 10)[0][0] == row[0]
    finally:
        engine.close()


def test_the_store_wrapper_answers_filtered_searches_from_the_wrapped_store(prism: Prism, tmp_path: Path) -> None:
    wrapped = TantivyStore(prism.store, _engine(prism, tmp_path))
    only_docs = SearchFilters(path="docs/")
    assert [c for c, _ in wrapped.lexical([("config", 1)], 10, only_docs)] == [
        c for c, _ in prism.store.lexical([("config", 1)], 10, only_docs)
    ]
    assert wrapped.count_chunks() == prism.store.count_chunks()
