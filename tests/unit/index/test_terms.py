"""Tests for prism.index.terms: the byte-table road finds exactly the terms of the `_WORD` regex."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from prism.index.terms import _WORD, _expand, chunk_terms, lexical_terms, terms_text
from prism.models import Chunk

TRICKY = [
    "",
    "   ",
    "_",
    "__",
    "a_",
    "_a",
    "9x",
    "x9",
    "12ab3_4",
    "0_1",
    "_9",
    "9_",
    "007",
    "99__ab",
    "__init__",
    "HTTPServerError2x",
    "parseHTTPResponse_v2",
    "é_x ünï9code",
    "\ud800x\udfff9",
    "\x00\x7f\x80\uffff\U0001f600",
    "a.b/c-d",
    "get_user_name(getUserName)",
]


def _by_regex(text: str) -> list[str]:
    """The terms as defined: each _WORD match's parts, then its compound."""
    return [term for word in _WORD.findall(text) for term in _expand(word)]


def test_tricky_texts_have_the_regex_terms() -> None:
    for text in TRICKY:
        assert lexical_terms(text) == _by_regex(text), text
        assert terms_text(text) == " ".join(_by_regex(text)), text


def test_digits_then_letters_are_two_words() -> None:
    assert lexical_terms("9x 12ab3_4 x9") == ["9", "x", "12", "ab3", "4", "ab34", "x9"]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ_09 \n\t.-/(é中\ud800\U0001f600"), max_size=60) | st.text(max_size=60))
def test_any_text_has_the_regex_terms(text: str) -> None:
    assert terms_text(text) == " ".join(_by_regex(text))


def test_source_files_have_the_regex_terms() -> None:
    for path in sorted(Path(__file__).parents[3].joinpath("src/prism/index").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert terms_text(text) == " ".join(_by_regex(text)), path.name


def test_chunk_terms_takes_the_files_path_terms() -> None:
    chunk = Chunk(
        path="src/http_server.py",
        language="python",
        kind="function",
        name="getUser",
        qualified_name="Api.getUser",
        signature="def getUser(self)",
        docstring="Fetch one.",
        start_line=1,
        end_line=2,
        content="def getUser(self):\n    return self.db_user",
        content_hash="0",
        tokens=12,
    )
    assert chunk_terms(chunk) == chunk_terms(chunk, terms_text(chunk.path))
    assert chunk_terms(chunk)[0] == "src http server httpserver py"
