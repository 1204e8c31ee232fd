"""A pack's count as the sum of its lines' counts: equal to the count of the joined text, whatever the lines hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prism.pack import pieces
from prism.pack.tokens import get_tokenizer

# Characters where tiktoken's split patterns turn: newlines, blank space of several kinds,
# punctuation (o200k takes `/` and newlines after it), digits, letters, apostrophes, non-ASCII.
ALPHABET = st.sampled_from([*"\n\r \t\u00a0\u2028/)(#`'<>-.:sdtLlq09xé字😀", "```", "'ll", "\n\n", "  \n"])
TEXT = st.lists(ALPHABET, max_size=30).map("".join)
NAMES = st.sampled_from(["cl100k_base", "o200k_base", "claude"])


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(TEXT, max_size=8), name=NAMES)
def test_the_sum_of_the_lines_is_the_count_of_the_text(parts: list[str], name: str) -> None:
    tokenizer = get_tokenizer(name)
    assert pieces.joined_count(tokenizer, parts) == tokenizer.count("\n".join(parts) + "\n")


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(TEXT.filter(pieces.starts_apart), min_size=1, max_size=8), name=NAMES)
def test_lines_that_start_apart_are_summed_exactly(parts: list[str], name: str) -> None:
    """The case every pack is (each line starts with `#`, `L`, `-` or `<`): summed, not joined and counted."""
    tokenizer = get_tokenizer(name)
    joined = "\n".join(parts) + "\n"
    assert pieces.joined_count(tokenizer, parts) == tokenizer.count(joined)
    encoding = pieces.additive(tokenizer)
    assert encoding is not None
    assert sum(encoding.count(part + "\n") for part in parts) == encoding.count(joined)


@settings(max_examples=300, deadline=None)
@given(block=TEXT, name=NAMES)
def test_a_block_counts_as_itself(block: str, name: str) -> None:
    tokenizer = get_tokenizer(name)
    assert pieces.block_count(tokenizer, block, tokenizer.count) == tokenizer.count(block)


def test_a_line_is_counted_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    tokenizer = get_tokenizer("cl100k_base")
    part = "L1-3 `load` (full, #abc) unique to this test"
    expected = tokenizer.count(f"# Context\n{part}\n")
    assert pieces.joined_count(tokenizer, ["# Context", part]) == expected
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return 0

    monkeypatch.setattr(tokenizer, "count", count)
    assert pieces.joined_count(tokenizer, ["# Context", part]) == expected
    assert counted == []
