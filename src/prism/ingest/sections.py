"""Cut documents into sections at their headings: Markdown (tree-sitter) and reStructuredText.

A section runs from its heading to the line before the next heading of any level, so nested
sections never repeat text; its qualified name is the heading path ("Guide > Install > Details").
Text before the first heading is a section with an empty name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import tree_sitter

from prism.ingest.languages import get_language
from prism.ingest.span import Span, paragraph_starts, trim

# An RST adornment line: one punctuation character repeated (at least 3 times).
_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1{2,}\s*")


@cache
def _heading_query() -> tree_sitter.Query:
    return tree_sitter.Query(get_language("markdown"), "(atx_heading) @h (setext_heading) @h")


def markdown_headings(root: tree_sitter.Node) -> list[tuple[int, int, str]]:
    """(row, level, text) of every Markdown heading; headings inside code blocks do not count."""
    found: list[tuple[int, int, str]] = []
    for node in tree_sitter.QueryCursor(_heading_query()).captures(root).get("h", []):
        level = 1
        text = ""
        for child in node.named_children:
            if child.type.startswith("atx_h") and child.type.endswith("_marker"):
                level = int(child.type[5])
            elif child.type == "setext_h2_underline":
                level = 2
            elif child.type in ("inline", "paragraph"):
                text = (child.text or b"").decode("utf-8", errors="replace")
        found.append((node.start_point[0], level, " ".join(text.split())))
    return sorted(found)


def rst_headings(lines: Sequence[str]) -> list[tuple[int, int, str]]:
    """(row, level, text) of RST section titles; levels follow first use of each adornment style."""
    styles: dict[tuple[str, bool], int] = {}
    found: list[tuple[int, int, str]] = []
    row = 0
    total = len(lines)
    while row < total - 1:
        title = lines[row].rstrip()
        under = _ADORNMENT.fullmatch(lines[row + 1])
        if (
            title
            and not title[0].isspace()
            and under is not None
            and len(lines[row + 1].rstrip()) >= len(title)
            and not _ADORNMENT.fullmatch(title)
        ):
            over = row > 0 and lines[row - 1].rstrip() == lines[row + 1].rstrip()
            style = (under.group(1), over)
            level = styles.setdefault(style, len(styles) + 1)
            found.append((row - 1 if over else row, level, title.strip()))
            row += 2
            continue
        row += 1
    return found


def section_spans(lines: Sequence[str], headings: list[tuple[int, int, str]], path: str) -> list[Span]:
    """One span per heading (plus the preamble), named by the heading path."""
    spans: list[Span] = []
    starts = [row for row, _, _ in headings]
    first_heading = starts[0] if starts else len(lines)
    preamble = trim(lines, 0, first_heading - 1)
    if preamble is not None:
        spans.append(
            Span(
                *preamble,
                "section",
                qualified_name=path,
                boundaries=paragraph_starts(lines, *preamble),
            )
        )
    trail: list[tuple[int, str]] = []
    for index, (row, level, text) in enumerate(headings):
        while trail and trail[-1][0] >= level:
            trail.pop()
        trail.append((level, text))
        stop = starts[index + 1] - 1 if index + 1 < len(starts) else len(lines) - 1
        bounds = trim(lines, row, stop) or (row, row)
        spans.append(
            Span(
                *bounds,
                "section",
                name=text,
                qualified_name=" > ".join(t for _, t in trail),
                signature=text if _ADORNMENT.fullmatch(lines[row]) else lines[row].strip(),
                defines=(text,),
                boundaries=paragraph_starts(lines, *bounds),
            )
        )
    return spans
