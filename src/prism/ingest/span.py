"""Line spans: the draft record chunks are built from, line windows, and token-bounded splitting.

Everything here works on 0-based row numbers over ``text.split("\\n")`` (the rows tree-sitter
counts), so a span never starts or ends inside a line, except a part of one line that alone
exceeds the chunk limit (``split_line``: a minified bundle, a data blob on one line).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from prism.models import ChunkKind


@dataclass(frozen=True)
class Span:
    """A chunk before its text, hash and tokens are filled in."""

    start: int  # 0-based row, inclusive
    end: int  # 0-based row, inclusive
    kind: ChunkKind
    name: str = ""
    qualified_name: str = ""
    parent: str = ""
    signature: str = ""
    docstring: str = ""
    defines: tuple[str, ...] = ()
    boundaries: tuple[int, ...] = ()  # rows where a split part may start (statement starts)
    columns: tuple[int, int] | None = None  # a part of one row: its [start, end) characters


def is_blank(line: str) -> bool:
    return not line.strip()


def trim(lines: Sequence[str], start: int, end: int) -> tuple[int, int] | None:
    """Shrink [start, end] past blank rows at both ends; None when only blank rows remain."""
    while start <= end and is_blank(lines[start]):
        start += 1
    while end >= start and is_blank(lines[end]):
        end -= 1
    return (start, end) if start <= end else None


def paragraph_starts(lines: Sequence[str], start: int, end: int) -> tuple[int, ...]:
    """Rows in (start, end] that open a paragraph (non-blank after a blank row)."""
    return tuple(row for row in range(start + 1, end + 1) if not is_blank(lines[row]) and is_blank(lines[row - 1]))


def window_spans(lines: Sequence[str], path: str, window_lines: int, window_overlap: int) -> list[Span]:
    """Fixed windows of whole lines, consecutive windows sharing ``window_overlap`` lines."""
    size = max(1, window_lines)
    step = max(1, size - max(0, window_overlap))
    spans: list[Span] = []
    total = len(lines)
    start = 0
    while start < total:
        end = min(start + size, total) - 1
        bounds = trim(lines, start, end)
        if bounds is not None:
            spans.append(
                Span(
                    bounds[0],
                    bounds[1],
                    "window",
                    qualified_name=f"{path}#L{bounds[0] + 1}",
                    boundaries=paragraph_starts(lines, bounds[0], bounds[1]),
                )
            )
        if end >= total - 1:
            break
        start += step
    return spans


def split_span(
    span: Span,
    lines: Sequence[str],
    count_tokens: Callable[[str], int],
    max_tokens: int,
) -> list[Span]:
    """Cut an oversize span into consecutive parts of at most ``max_tokens`` where possible.

    Parts start at the span's statement boundaries when one fits, else at any line; a single
    line over the limit stays whole (lines are never split). Every part keeps the span's kind and
    qualified name; only the first keeps the docstring. Window parts get their own ``#L`` name.
    """
    first, last = span.start, span.end
    per_line = [count_tokens(lines[row]) for row in range(first, last + 1)]
    prefix = [0]
    for value in per_line:
        prefix.append(prefix[-1] + value)

    def approx(a: int, b: int) -> int:  # tokens of rows a..b-1, summed per line
        return prefix[b - first] - prefix[a - first]

    def exact(a: int, b: int) -> int:  # tokens of rows a..b-1 as one text
        return count_tokens("\n".join(lines[a:b]))

    candidates = sorted({row for row in span.boundaries if first < row <= last})
    parts: list[tuple[int, int]] = []
    start = first
    while start <= last:
        if exact(start, last + 1) <= max_tokens:
            parts.append((start, last))
            break
        fits = [row for row in candidates if row > start and approx(start, row) <= max_tokens]
        if fits:
            options = fits[::-1]
        else:  # no statement boundary fits: fall back to line boundaries
            options = [
                row for row in range(last, start, -1) if approx(start, row) <= max_tokens and not is_blank(lines[row])
            ] or [start + 1]
        cut = options[-1]
        for row in options:  # furthest first; the join can cost more than the per-line sum
            if exact(start, row) <= max_tokens:
                cut = row
                break
        parts.append((start, cut - 1))
        start = cut
    if len(parts) == 1:
        return [span]
    result: list[Span] = []
    for index, (a, b) in enumerate(parts):
        bounds = trim(lines, a, b) or (a, b)
        qualified = span.qualified_name
        if span.kind == "window":
            qualified = qualified.rsplit("#L", 1)[0] + f"#L{bounds[0] + 1}"
        result.append(
            replace(
                span,
                start=bounds[0],
                end=bounds[1],
                qualified_name=qualified,
                docstring=span.docstring if index == 0 else "",
                boundaries=(),
            )
        )
    return result


def split_line(span: Span, line: str, count_tokens: Callable[[str], int], max_tokens: int) -> list[Span]:
    """Cut a one-row span whose line alone exceeds ``max_tokens`` into parts that fit.

    Each part is a slice of the line (``columns``), cut after whitespace or punctuation near the
    end of what fits when there is some. Parts keep the span's kind and names (windows get a
    ``#Lrow:col`` name); the first keeps the docstring.
    """
    cuts: list[tuple[int, int]] = []
    start, total = 0, len(line)
    guess = max(1, max_tokens * 3)  # characters per part, corrected by each count
    while start < total:
        end = min(total, start + guess)
        tokens = count_tokens(line[start:end])
        while tokens > max_tokens and end - start > 1:
            end = start + max(1, (end - start) * max_tokens // (tokens + 1))
            tokens = count_tokens(line[start:end])
        if end < total:
            soft = _soft_cut(line, start, end)
            if soft != end and (counted := count_tokens(line[start:soft])) <= max_tokens:
                end, tokens = soft, counted
        cuts.append((start, end))
        guess = max(1, (end - start) * max_tokens // max(tokens, 1))
        start = end
    row = span.start
    parts: list[Span] = []
    for index, (a, b) in enumerate(cuts):
        qualified = span.qualified_name
        if span.kind == "window":
            qualified = qualified.rsplit("#L", 1)[0] + f"#L{row + 1}" + (f":{a + 1}" if a else "")
        parts.append(replace(span, start=row, end=row, columns=(a, b), qualified_name=qualified,
                             docstring=span.docstring if index == 0 else "", boundaries=()))
    return parts


def _soft_cut(line: str, start: int, end: int) -> int:
    """``end``, moved back to just after a space or punctuation in the part's last fifth."""
    floor = start + (end - start) * 4 // 5
    for position in range(end, floor, -1):
        if line[position - 1] in " \t,;{}()[]":
            return position
    return end
