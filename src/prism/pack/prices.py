"""Block prices by arithmetic: a chunk's code priced at index time plus the text its block puts around it.

A block is (before, code, after) (`assemble.block_parts`); the code's tokens at each level
were counted when the chunk was indexed (`degrade.price_levels`), so a block costs the
tokens of its short frame plus a stored number, with no parse and no count of the code.
The sum is an estimate: token boundaries may merge where the parts meet (a `)` and the
newline after it), which makes the sum a token or two high, rarely low; `select` counts
the blocks it picks exactly and the whole pack once more at the end.

Chunks priced by another tokenizer (or not at all: an index from before pricing), and JSON
packs (whose code is escaped inside strings), are not priced here: None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from prism.models import LEVELS, Chunk, Level
from prism.pack.assemble import Frame, block_parts
from prism.pack.memo import Memo
from prism.pack.records import PackedChunk
from prism.pack.tokens import ENCODINGS, TiktokenTokenizer, Tokenizer

LINE_NUMBER_TOKENS = 2  # per line of a numbered full block (a number, and the space after it)
PRICES_LIMIT = 50_000  # entries of a few dozen bytes each (the chunk record is shared)
_PRICES: Memo[tuple[Chunk, str, bool, str], tuple[int, ...]] = Memo(PRICES_LIMIT)


def block_prices(draft: PackedChunk, chunk: Chunk, frame: Frame, tokenizer: Tokenizer) -> tuple[int, ...] | None:
    """Estimated tokens of the chunk's block at each level (LEVELS order), the joining newline
    included as `select` counts it; None when the chunk has no prices by this tokenizer.

    `draft` is the chunk's block at full level (its content the full code), for its label.
    """
    levels = chunk.level_tokens
    if frame.fmt == "json" or levels is None or levels.tokenizer != tokenizer.name:
        return None
    if frame.fmt == "xml" and "]]>" in chunk.content:
        return None  # CDATA splits it: the code's count would not be its stored one
    key = (chunk, frame.fmt, frame.line_numbers, tokenizer.name)
    found = _PRICES.get(key)
    if found is None:
        found = _price(draft, chunk, frame, tokenizer)
        _PRICES.put(key, found)
    return found


def _price(draft: PackedChunk, chunk: Chunk, frame: Frame, tokenizer: Tokenizer) -> tuple[int, ...]:
    levels = chunk.level_tokens
    assert levels is not None
    # The frame is the same at every level but for the level's name in the label, a token of
    # its own (between `(` and `,`, or `"` and `"`): count it once, and the names apart.
    before, _, after = block_parts(replace(draft, level="full"), frame)
    around = tokenizer.count(before) + tokenizer.count(after)
    named = _level_names(tokenizer)
    reference = tokenizer.count("".join(block_parts(replace(draft, level="reference", content=""), frame)))
    prices: list[int] = []
    for level in LEVELS:
        if level == "reference":
            prices.append(reference + 1)
            continue
        code = levels.tokens(level)
        if frame.line_numbers and level == "full":
            code += LINE_NUMBER_TOKENS * (chunk.content.rstrip("\n").count("\n") + 1)
        prices.append(max(1, around + named[level] - named["full"] + code + 1))
    return tuple(prices)


_NAMES: dict[str, dict[Level, int]] = {}


def _level_names(tokenizer: Tokenizer) -> dict[Level, int]:
    found = _NAMES.get(tokenizer.name)
    if found is None:
        found = _NAMES[tokenizer.name] = {level: tokenizer.count(level) for level in LEVELS}
    return found


def block_tokens(draft: PackedChunk, stored: int, frame: Frame, tokenizer: Tokenizer,
                 count: Callable[[str], int]) -> int | None:
    """The exact tokens of the block of `draft` (a priced level, its content rendered), from the
    stored count of its code: no count of the code itself. None when it cannot be had so.

    Exact by how tiktoken splits text before merging (cl100k and o200k): no piece runs across
    a newline into the text after it unless that text starts with whitespace holding another
    newline (or, in o200k, a `/` after punctuation). So a block is its `before` (which ends with
    a newline), the code up to its last newline, and the code's last line with what follows;
    only the short ends are counted (`count`, a memoised count).
    """
    if tokenizer.name not in ENCODINGS or not isinstance(tokenizer, TiktokenTokenizer):
        return None  # a scaled count (claude) is not a sum of its parts
    before, code, after = block_parts(draft, frame)
    lead = code[:len(code) - len(code.lstrip())]
    if not before.endswith("\n") or not code or "\n" in lead or "\r" in lead or code[0] == "/":
        return None
    cut = code.rfind("\n") + 1
    tail = code[cut:]
    if not tail.strip() or "\r" in code:
        return None
    head = stored - count(tail) if cut else 0
    return count(before) + head + count(tail + after)
