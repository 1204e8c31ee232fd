"""Tests for prism.retrieve.place: which files a query demotes, and when it asks for them."""

from __future__ import annotations

from prism.models import Chunk, ChunkHead, ChunkKind, StoredChunk
from prism.retrieve.place import asked_places, place_share
from prism.retrieve.query import parse_query


def _chunk(path: str, language: str = "python", kind: ChunkKind = "function") -> ChunkHead:
    chunk = Chunk(path=path, language=language, kind=kind, name="f", qualified_name="f", signature="",
                  docstring="", start_line=1, end_line=1, content="f\n", content_hash="h", tokens=1)
    return StoredChunk(1, chunk, "h", 0.0).head


def test_a_code_question_demotes_tests_docs_and_vendored_code_but_not_configuration() -> None:
    query = parse_query("where are redirects followed")
    assert place_share(_chunk("httpx/_client.py"), query, 0.5) == 1.0
    assert place_share(_chunk("tests/test_redirects.py"), query, 0.5) == 0.5
    assert place_share(_chunk("CHANGELOG.md", "markdown", "section"), query, 0.5) == 0.5
    assert place_share(_chunk("third_party/six.py"), query, 0.5) == 0.25  # a copy: share²
    assert place_share(_chunk("config/settings.yaml", "yaml", "window"), query, 0.5) == 1.0


def test_naming_a_place_lifts_its_prior_for_questions_but_not_for_issue_texts() -> None:
    assert asked_places("tests for redirects followed") == {"tests"}
    assert asked_places("what the changelog says about redirects") == {"docs"}
    assert place_share(_chunk("tests/test_redirects.py"), parse_query("tests for redirects"), 0.5) == 1.0
    assert place_share(_chunk("docs/api.md", "markdown", "section"), parse_query("docs for Client"), 0.5) == 1.0
    issue = parse_query("Redirects are not followed\n\n" + "The test below fails when run. " * 20)
    assert issue.is_long
    assert place_share(_chunk("tests/test_redirects.py"), issue, 0.5) == 0.5


def test_a_word_inside_code_names_code_not_a_place() -> None:
    assert asked_places("Rationale for is<T>: we call `doc.is<uint64_t>().tie(v, x)`") == frozenset()
    assert asked_places("```\nbool v = doc.is<int>();\nrun_tests();\n```\nwhy a bool?") == frozenset()
    assert asked_places("the docs for `doc.is`") == {"docs"}
    query = parse_query("Rationale for is<T>: we call `doc.is<uint64_t>().tie(v, x)`")
    assert place_share(_chunk("doc/basics.md", "markdown", "section"), query, 0.5) == 0.5
