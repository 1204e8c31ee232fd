"""Tests for prism.pack.line_tokens: counts by line segment equal whole-text counts, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prism.pack.line_tokens import LineCounter, segments
from prism.pack.tokens import get_tokenizer

TOKENIZERS = ("cl100k_base", "o200k_base", "claude")
# Code points where a piece could run past a newline: whitespace of every kind, "/" (o200k's
# punctuation pieces take it after newlines), quotes, digits, marks, letters, symbols.
WHITESPACE = ("\t\n\x0b\x0c\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u180e\u2000\u2007\u200a\u200b"
              "\u2028\u2029\u202f\u205f\u3000\ufeff")
START_CHARS = WHITESPACE + "/'\"#)}]0123456789aZ_\u0301\u00e9\u4e2d\U0001f600-+*.,;:!?\\`~@$%^&|<>="
TRICKY = [
    "",
    "\n",
    "\n\n\n",
    "x",
    "a)\n/b",
    "a)\n//comment\n  /x",
    "def f():\n    return 1\n\n\n    \n  x = 2\n",
    "line\r\nnext\r\n\r\n  last\r\n",
    "trailing   \n    spaces  \n\t\ttab\n",
    "it's\n's\n'll\nok",
    "}\n}\n}\n",
    "  \u3000\n\u2028x\n\x85y\n\xa0z",
    "1234567\n89\n0",
]


def _counts(name: str, text: str) -> tuple[int, int]:
    tokenizer = get_tokenizer(name)
    return LineCounter(tokenizer).count(text), tokenizer.count(text)


@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts_count_exactly(name: str, text: str) -> None:
    by_line, whole = _counts(name, text)
    assert by_line == whole


@pytest.mark.parametrize("name", TOKENIZERS)
def test_every_start_of_a_line_counts_exactly(name: str) -> None:
    """A newline, then any indentation and any of the characters that end pieces oddly; plus
    every ASCII and Latin-1 code point."""
    chars = START_CHARS + "".join(map(chr, range(0x100)))
    counter = LineCounter(get_tokenizer(name))
    tokenizer = get_tokenizer(name)
    for char in chars:
        for before in ("x)", "ab  ", "'", "1", "\n"):
            for indent in ("", "  ", "\t", " \u3000"):
                for after in ("y", "", "\n", " z\n\n"):
                    text = f"{before}\n{indent}{char}{after}"
                    assert counter.count(text) == tokenizer.count(text), repr(text)


@pytest.mark.parametrize("name", ("cl100k_base", "o200k_base"))
def test_real_code_counts_exactly_and_is_cut(name: str) -> None:
    """This package's own sources, whole and in every 7-line slice, and the cuts are there."""
    tokenizer = get_tokenizer(name)
    counter = LineCounter(tokenizer)
    sources = sorted((Path(__file__).parents[3] / "src" / "prism" / "pack").glob("*.py"))
    assert sources
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert len(segments(text)) > min(10, text.count("\n") // 2)
        assert "".join(segments(text)) == text
        assert counter.count(text) == tokenizer.count(text)
        lines = text.split("\n")
        for start in range(0, len(lines), 7):
            part = "\n".join(lines[start:start + 7])
            assert counter.count(part) == tokenizer.count(part)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list(START_CHARS + "abc(){}[]/ \n")), max_size=12),
                max_size=8))
def test_random_texts_count_exactly(lines: list[str]) -> None:
    text = "\n".join(lines)
    for name in TOKENIZERS:
        by_line, whole = _counts(name, text)
        assert by_line == whole, repr(text)


def test_memo_starts_afresh_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from prism.pack import line_tokens

    monkeypatch.setattr(line_tokens, "MEMO_ENTRIES", 3)
    tokenizer = get_tokenizer("cl100k_base")
    counter = LineCounter(tokenizer)
    text = "\n".join(f"line{i} = {i}" for i in range(20))
    assert counter.count(text) == tokenizer.count(text)
    assert len(counter._memo) <= 3
