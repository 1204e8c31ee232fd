"""A chunk's lower levels' texts as the index stores them (`level_texts`): each level as lines of the level above.

Each lower level (light, skeleton, signature) keeps lines of the level above it, mostly
unchanged (light drops comments and blank lines, skeleton drops bodies), so a level is
stored as a list of items over the lines of the one above: an int k (line k), a pair
[a, b] (lines a to b), or a string (a line of its own: a comment cut off, a body marker).
A level equal to the one above is null. Light differs from the full code in half the
chunks and would otherwise double the stored code; as lines it costs a few numbers.
"""

from __future__ import annotations

import json
from bisect import bisect_left

Item = int | list[int] | str


def encode(full: str, lower: tuple[str, str, str]) -> str:
    """The JSON list stored for a chunk's (light, skeleton, signature), given its full code."""
    out: list[list[Item] | None] = []
    above = full
    for text in lower:
        out.append(None if text == above else _as_lines(text.split("\n"), above.split("\n")))
        above = text
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


LOOKAHEAD = 8  # lines of `above` compared one by one before the index of all its lines is built


def _as_lines(lines: list[str], above: list[str]) -> list[Item]:
    """`lines` as items over `above`: each line found at or after the last one taken, else itself.

    A level keeps most lines of the one above in order, so the next few lines are compared
    first; the index of where each line of `above` lies is built only for a line not among them.
    """
    where: dict[str, list[int]] | None = None
    items: list[Item] = []
    start = 0  # the first line of `above` not yet passed
    for line in lines:
        ahead = above[start:start + LOOKAHEAD]
        if line in ahead:
            k = start + ahead.index(line)
        else:  # not in the next few lines: its first place beyond them, if any
            if where is None:
                where = {}
                for n, text in enumerate(above):
                    where.setdefault(text, []).append(n)
            found = where.get(line)
            k = found[bisect_left(found, start)] if found and found[-1] >= start else -1
        if k < 0:
            items.append(line)
            continue
        start = k + 1
        last = items[-1] if items else None
        if isinstance(last, int) and last == k - 1:
            items[-1] = [last, k]
        elif isinstance(last, list) and last[1] == k - 1:
            last[1] = k
        else:
            items.append(k)
    return items


def decode(full: str, stored: str) -> tuple[str, str, str] | None:
    """The (light, skeleton, signature) texts back; None for a value this module did not write."""
    try:
        found = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(found, list) or len(found) != 3:
        return None
    texts: list[str] = []
    above = full
    for level in found:
        if level is not None:
            lines = _lines(level, above.split("\n"))
            if lines is None:
                return None
            above = "\n".join(lines)
        texts.append(above)
    return texts[0], texts[1], texts[2]


def _lines(items: object, above: list[str]) -> list[str] | None:
    if not isinstance(items, list):
        return None
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif _line(item, len(above)):
            assert isinstance(item, int)
            out.append(above[item])
        elif isinstance(item, list) and len(item) == 2 and all(_line(k, len(above)) for k in item) \
                and item[0] <= item[1]:
            out.extend(above[item[0]:item[1] + 1])
        else:
            return None
    return out


def _line(item: object, count: int) -> bool:
    """A line number of a level of `count` lines (JSON's true is no number)."""
    return isinstance(item, int) and not isinstance(item, bool) and 0 <= item < count
