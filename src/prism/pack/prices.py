"""Block prices by arithmetic: a chunk's code priced at index time plus the text its block puts around it.

A block is (before, code, after) (`assemble.block_parts`); the code's tokens at each level
were counted when the chunk was indexed (`degrade.price_levels`), so a block costs the
tokens of its short frame plus a stored number, with no parse and no count of the code.
The sum is an estimate: token boundaries may merge where the parts meet (a `)` and the
newline after it), which makes the sum a token or two high, rarely low; `select` counts
the blocks it picks exactly (each once per process), and the pack is the sum of those counts
(pieces.py).

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
from prism.pack.tokens import Tokenizer

LINE_NUMBER_TOKENS = 2  # per line of a numbered full block (a number, and the space after it)
PRICES_LIMIT = 50_000  # entries of a few dozen bytes each (the chunk record is shared)
_PRICES: Memo[tuple[Chunk, str, bool, str], tuple[int, ...]] = Memo(PRICES_LIMIT)


def block_prices(draft: Callable[[], PackedChunk], chunk: Chunk, frame: Frame,
                 tokenizer: Tokenizer) -> tuple[int, ...] | None:
    """Estimated tokens of the chunk's block at each level (LEVELS order), the joining newline
    included as `select` counts it; None when the chunk has no prices by this tokenizer.

    `draft` makes the chunk's block at full level (its content the full code), for its label;
    it is not called when the prices are memoised.
    """
    levels = chunk.level_tokens
    if frame.fmt == "json" or levels is None or levels.tokenizer != tokenizer.name:
        return None
    if frame.fmt == "xml" and "]]>" in chunk.content:
        return None  # CDATA splits it: the code's count would not be its stored one
    key = (chunk, frame.fmt, frame.line_numbers, tokenizer.name)
    found = _PRICES.get(key)
    if found is None:
        found = _price(draft(), chunk, frame, tokenizer)
        _PRICES.put(key, found)
    return found


def _price(draft: PackedChunk, chunk: Chunk, frame: Frame, tokenizer: Tokenizer) -> tuple[int, ...]:
    levels = chunk.level_tokens
    assert levels is not None
    # The frame is the same at every level but for the level's name in the label, a token of
    # its own (between `(` and `,`, or `"` and `"`): count it once, and the names apart.
    before, _, after = block_parts(draft, frame)
    around = tokenizer.count(before) + _count_end(tokenizer, after)
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


_ENDS: Memo[tuple[str, str], int] = Memo(1_000)  # (tokenizer, a block's end: its fence, its CDATA close)


def _count_end(tokenizer: Tokenizer, after: str) -> int:
    key = (tokenizer.name, after)
    found = _ENDS.get(key)
    if found is None:
        found = tokenizer.count(after)
        _ENDS.put(key, found)
    return found


_NAMES: dict[str, dict[Level, int]] = {}


def _level_names(tokenizer: Tokenizer) -> dict[Level, int]:
    found = _NAMES.get(tokenizer.name)
    if found is None:
        found = _NAMES[tokenizer.name] = {level: tokenizer.count(level) for level in LEVELS}
    return found
