"""Exact token counts of many texts made of the same lines, each line counted once.

tiktoken splits a text into pieces with a regex and encodes each piece on its own, so a
text's count is the sum of its pieces' counts. For cl100k and o200k no piece runs past a
newline into a line that has a non-blank character after its leading spaces and tabs and
does not start with `/` (o200k's punctuation pieces take newlines and slashes after them):
every piece that holds a newline ends with it, or with the last newline of a whitespace run.
Cut at those newlines, a text's segments (such a line, with the blank lines after it) count
exactly what the whole text counts (tests/unit/pack/test_line_tokens.py checks it over every
code point and on real code). Indexing counts a file's chunks, their split parts and their
degraded levels, which share most lines: a memo of segment counts counts each about once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from prism.pack.tokens import ScaledTokenizer, TiktokenTokenizer, Tokenizer

# The newline before a line whose first character after spaces and tabs is not whitespace,
# and that does not start with "/": a cut after it. Python's \S excludes every character
# str.isspace() accepts, a superset of the Unicode White_Space that tiktoken's \s matches.
# (Led by a literal newline, the pattern is searched for fast.)
_CUT = re.compile(r"\n(?!/)(?=[ \t]*\S)")
MEMO_ENTRIES = 200_000  # segments held before the memo starts afresh (a few MB of short lines)


class LineCounter:
    """`tokenizer.count`, exact, memoised by segment for the cl100k/o200k tokenizers (and
    their scaled Claude count); any other tokenizer's counts are memoised by whole text."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        base: Tokenizer = tokenizer.base if isinstance(tokenizer, ScaledTokenizer) else tokenizer
        self._factor = tokenizer.factor if isinstance(tokenizer, ScaledTokenizer) else 1.0
        self._base: Callable[[str], int] | None = base.counter() if isinstance(base, TiktokenTokenizer) else None
        self._memo: dict[str, int] = {}

    def count(self, text: str) -> int:
        if self._base is None:
            return self._counted(text, self.tokenizer.count)
        total = 0
        memo = self._memo
        base = self._base
        for segment in segments(text):
            found = memo.get(segment)
            if found is None:
                if len(memo) >= MEMO_ENTRIES:
                    memo.clear()
                found = memo[segment] = base(segment)
            total += found
        if self._factor == 1.0:
            return total
        return math.ceil(round(total * self._factor, 6))  # as ScaledTokenizer.count rounds

    def _counted(self, text: str, count: Callable[[str], int]) -> int:
        if len(self._memo) >= MEMO_ENTRIES:
            self._memo.clear()
        value = self._memo[text] = count(text)
        return value


def segments(text: str) -> list[str]:
    """`text` cut after each newline where no token piece runs on (they join to `text`)."""
    out: list[str] = []
    pos = 0
    for match in _CUT.finditer(text):
        end = match.end()
        out.append(text[pos:end])
        pos = end
    out.append(text[pos:])
    return out
