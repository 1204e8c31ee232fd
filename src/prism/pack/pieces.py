"""Exact counts of newline-joined pack text as the sum of its lines' counts, each line counted once per process.

Why a sum is exact (cl100k and o200k, tiktoken's split patterns in tokens.py): tiktoken
splits text into pieces by a regex and merges only within a piece. No alternative of
either pattern can match a newline followed by a character that is not whitespace, except
o200k's punctuation run, which also takes a `/` after its newlines; `\\s++$` and the
lookahead `(?!\\S)` only decide how whitespace that ends in the newline is cut, which is
the same with or without what follows. So when `x` ends with a newline and `y` starts with
neither whitespace nor `/`, the pieces of `x + y` are those of `x` then those of `y`, and
count(x + y) = count(x) + count(y). A pack (Markdown or XML) is its parts joined by
newlines, each part a header, a block or a manifest line that starts with `#`, `L`, `-` or
`<`: its count is the sum of count(part + newline), and a part seen in an earlier pack of
this process costs a lookup. The counts are of the text itself, never of stored prices,
so the pack's count is exact whatever the index says. The Claude count scales cl100k's
(rounding up once, on the sum); another tokenizer counts the joined text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prism.pack.memo import Memo
from prism.pack.tokens import ENCODINGS, ScaledTokenizer, TiktokenTokenizer, Tokenizer

PIECES_LIMIT = 32 * 2**20  # characters of part text held as keys (~25 MB with the entries)


def _weigh(key: tuple[str, str], tokens: int) -> int:
    return len(key[1]) + 100


_PIECES: Memo[tuple[str, str], int] = Memo(PIECES_LIMIT, _weigh)  # (encoding, part) → count(part + "\n")


def additive(tokenizer: Tokenizer) -> TiktokenTokenizer | None:
    """The exact tiktoken encoding under `tokenizer` whose counts add up over newline-split parts, if any."""
    if isinstance(tokenizer, ScaledTokenizer):
        return additive(tokenizer.base)
    if isinstance(tokenizer, TiktokenTokenizer) and tokenizer.name in ENCODINGS:
        return tokenizer
    return None


def starts_apart(text: str) -> bool:
    """Text after a newline that never merges with it: it starts with neither whitespace nor `/`.

    `str.isspace` holds for every character regex's `\\s` matches (and a few more), so the test
    errs on the side of counting the joined text.
    """
    return bool(text) and not text[0].isspace() and text[0] != "/"


def line_count(encoding: TiktokenTokenizer, part: str) -> int:
    """count(part + "\\n") by `encoding`, memoised by the part's text."""
    key = (encoding.name, part)
    found = _PIECES.get(key)
    if found is None:
        found = encoding.count(part + "\n")
        _PIECES.put(key, found)
    return found


def joined_count(tokenizer: Tokenizer, parts: Sequence[str]) -> int:
    """tokenizer.count("\\n".join(parts) + "\\n"), from the parts' memoised counts where that is exact."""
    encoding = additive(tokenizer)
    if encoding is None or not parts or not all(starts_apart(part) for part in parts[1:]):
        return tokenizer.count("\n".join(parts) + "\n")
    total = sum(line_count(encoding, part) for part in parts)
    return tokenizer.scale(total) if isinstance(tokenizer, ScaledTokenizer) else total


def block_count(tokenizer: Tokenizer, block: str, count: Callable[[str], int]) -> int:
    """tokenizer.count(block) for a block that will be a part of the pack, from the count
    `joined_count` will look up (the block and its newline) less its last line's newline.

    `count`: a memoised count by `tokenizer`, used when the block cannot be split so.
    """
    encoding = additive(tokenizer)
    cut = block.rfind("\n") + 1
    last = block[cut:]
    if encoding is not tokenizer or not cut or not starts_apart(last):
        return count(block)
    return line_count(encoding, block) - line_count(encoding, last) + count(last)
