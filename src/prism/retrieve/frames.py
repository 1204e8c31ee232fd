"""Code locations a query quotes: traceback frames in the forms people paste, and `path:line` mentions.

A bug report points at the line that failed in many shapes besides CPython's
`File "x.py", line N, in f`: IPython and Jupyter tracebacks (`x.py in f(args)` then `--> N`,
or `File ~/x.py:N, in f(args)`), JVM frames (`at pkg.Cls.m(Cls.java:N)`), compiler and panic
locations (`src/vec.rs:120:9`), GitHub links (`blob/main/pkg/x.py#L227`) and prose
("`jsonrep.py` at line 227", "line 227 of x.py"). Each becomes a Frame; search ranks the chunk
that holds the line (exact.match_frames).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EXT = r"(?:py|pyi|js|jsx|ts|tsx|go|rs|java|kt|scala|c|h|cc|cpp|cxx|hpp|hh|cs|rb|php|swift)"
_CPYTHON = re.compile(r'File "([^"\n]+)", line (\d+)(?:, in ([A-Za-z_<>][\w<>]*))?')
# IPython ≥ 8: `File ~/lib/x.py:1234, in Dataset.method(self, a)`
_IPYTHON = re.compile(rf"File ([^\s\",]+\.{_EXT}):(\d+)(?:, in ([A-Za-z_<>][\w.<>]*))?")
# IPython < 8: `~/lib/x.py in method(self, a)`, its failing line marked `--> 253` below it
_IPYTHON_OLD = re.compile(rf"^\s*(\S+\.{_EXT}) in ([A-Za-z_<>][\w<>]*)\(", re.M)
_ARROW = re.compile(r"^-*>\s*(\d+)", re.M)
# JVM: `at com.pkg.Registry.call(Registry.java:194)`
_JVM = re.compile(r"\bat\s+(?:[\w$]+\.)*?([\w$]+)\.([\w$<>]+)\s?\(([\w$]+\.(?:java|kt|scala)):(\d+)\)")
# `src/vec.rs:120:9`, `pkg/x.py:92`, GitHub `pkg/x.py#L227` (the path needs a folder or an extension)
_PATH_LINE = re.compile(rf"(?<![\w.~-])((?:~|\.{{1,2}})?/?(?:[\w.-]+/)*[\w-]+\.{_EXT})(?::|#L)(\d+)\b")
# "`jsonrep.py` at line 227", "x.py, line 12", "x.py (line 12)", "line 227 of x.py", "line 227 in x.py"
_AT_LINE = re.compile(rf"((?:[\w.-]+/)*[\w-]+\.{_EXT})`?,?\s+\(?(?:at\s+|on\s+)?line\s+(\d+)", re.I)
_LINE_OF = re.compile(rf"\bline\s+(\d+)\s+(?:of|in)\s+`?((?:[\w.-]+/)*[\w-]+\.{_EXT})\b", re.I)


@dataclass(frozen=True)
class Frame:
    """One code location named in the query: a traceback frame, or a file and line mentioned.

    `function` is empty when the text gives none (a `path:line` mention)."""

    path: str
    line: int
    function: str


def _clean(path: str) -> str:
    return path.replace("\\", "/")


def parse_frames(text: str) -> tuple[Frame, ...]:
    """Every location of `text` in the order written, except that each traceback runs from the
    outermost call to the failing frame (JVM traces, written failing frame first, are turned round)."""
    found: list[tuple[int, Frame]] = []
    taken: list[tuple[int, int]] = []  # spans already read, so one location is not read twice

    def add(start: int, end: int, frame: Frame, key: int | None = None) -> None:
        if any(a <= start < b or start <= a < end for a, b in taken):
            return
        taken.append((start, end))
        found.append((start if key is None else key, frame))

    for m in _CPYTHON.finditer(text):
        add(m.start(), m.end(), Frame(_clean(m.group(1)), int(m.group(2)), m.group(3) or ""))
    for m in _IPYTHON.finditer(text):
        function = (m.group(3) or "").rsplit(".", 1)[-1]
        add(m.start(), m.end(), Frame(_clean(m.group(1)), int(m.group(2)), function))
    headers = list(_IPYTHON_OLD.finditer(text))
    for i, m in enumerate(headers):
        stop = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        arrow = _ARROW.search(text, m.end(), stop)
        if arrow is not None:
            add(m.start(), m.end(), Frame(_clean(m.group(1)), int(arrow.group(1)), m.group(2)))
    jvm = list(_JVM.finditer(text))
    for m in jvm:  # a JVM trace lists the failing frame first: mirror it within its span
        function = m.group(2) if not m.group(2).startswith("<") else m.group(1)  # <init>: the class
        key = jvm[0].start() + jvm[-1].start() - m.start()
        add(m.start(), m.end(), Frame(m.group(3), int(m.group(4)), function), key)
    for m in _PATH_LINE.finditer(text.replace("\\", "/")):
        add(m.start(), m.end(), Frame(m.group(1), int(m.group(2)), ""))
    for m in _AT_LINE.finditer(text):
        add(m.start(), m.end(), Frame(_clean(m.group(1)), int(m.group(2)), ""))
    for m in _LINE_OF.finditer(text):
        add(m.start(), m.end(), Frame(_clean(m.group(2)), int(m.group(1)), ""))
    return tuple(frame for _, frame in sorted(found, key=lambda sf: sf[0]))
