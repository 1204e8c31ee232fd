"""Citations in an answer: every `path:start-end` (or `path:line`) the model cites, checked against the pack.

A citation is grounded when each of its lines lies in code the pack showed (a chunk at any
level but `reference`, which shows only a name); anything else — a range past the shown
chunk, a file the pack never held — is flagged, since the model cannot have read it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from prism.pack.records import PackedChunk

# path with a file extension or a slash, then :start[-end]; optional backticks/brackets around it
_CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z]\w*):(\d+)(?:\s*[-–]\s*L?(\d+))?")


@dataclass(frozen=True)
class Citation:
    path: str
    start_line: int
    end_line: int
    in_pack: bool

    def __str__(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _shown(chunks: Sequence[PackedChunk]) -> dict[str, list[tuple[int, int]]]:
    shown: dict[str, list[tuple[int, int]]] = {}
    for chunk in chunks:
        if chunk.level != "reference":
            shown.setdefault(chunk.path, []).append((chunk.start_line, chunk.end_line))
    return shown


def _covered(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether every line of start..end lies in one of `ranges` (adjacent chunks together count)."""
    line = start
    for first, last in sorted(ranges):
        if first <= line <= last:
            line = last + 1
            if line > end:
                return True
    return False


def check_citations(answer: str, chunks: Sequence[PackedChunk]) -> list[Citation]:
    """Each distinct citation in `answer`, in order of appearance, marked in or out of the pack."""
    shown = _shown(chunks)
    found: dict[tuple[str, int, int], Citation] = {}
    for match in _CITATION.finditer(answer):
        path = match.group(1).removeprefix("./")
        start = int(match.group(2))
        end = int(match.group(3) or start)
        if end < start:
            start, end = end, start
        key = (path, start, end)
        if key not in found:
            found[key] = Citation(path, start, end, _covered(shown.get(path, []), start, end))
    return list(found.values())
