"""Code locations a query quotes: stack frames and `file:line` mentions in the shapes people paste.

Besides CPython's `File "x.py", line N, in f`: IPython and Jupyter tracebacks (`x.py in f(args)`
then `--> N`, or `File ~/x.py:N, in f(args)`), JVM frames `at pkg.Class.method(File.java:12)`
(read as the file path the package implies), the `path/file.ext:LINE[:COL]` form of Rust panics,
Go and JavaScript traces and C/C++ compiler errors (MSVC's `file(LINE):` too), repository links
(`blob/<ref>/path#L123`) and prose ("`jsonrep.py` at line 227", "line 227 of x.py"). Each becomes
a Frame; search ranks the chunk that holds the line (exact.frame_chunks).

Frames come out in the order written, except that each traceback runs from the outermost call to
the failing frame (Python's order): traces printed failing frame first are turned round. Those are
JVM traces, Go goroutine dumps (`pkg.(*T).Method(...)` over `\t/path/file.go:12 +0x1d`), Rust
backtraces (`  3: app::io::read` over `at ./src/io.rs:10:5`), gdb and
sanitizer backtraces (`#0 0x4005d4 in f (x=1) at src/a.c:12`, `#1 0x55d in g /src/a.c:30:7`) and
JavaScript stacks (`at render (src/a.js:3:9)`), each frame with the function it names. The closer
a frame is to the failure, the more its chunk is worth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# File extensions of code a frame or a written path may name.
CODE_EXTENSIONS = ("py", "pyi", "js", "jsx", "mjs", "cjs", "ts", "tsx", "go", "rs", "java", "kt", "scala",
                   "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx", "ipp", "inl", "cs", "rb", "php",
                   "swift", "sh", "lua")
_EXT = "(?:" + "|".join(sorted(CODE_EXTENSIONS, key=len, reverse=True)) + ")"

_CPYTHON = re.compile(r'File "([^"\n]+)", line (\d+)(?:, in ([A-Za-z_<>][\w<>]*))?')
# IPython ≥ 8: `File ~/lib/x.py:1234, in Dataset.method(self, a)`
_IPYTHON = re.compile(rf"File ([^\s\",]+\.{_EXT}):(\d+)(?:, in ([A-Za-z_<>][\w.<>]*))?")
# IPython < 8: `~/lib/x.py in method(self, a)`, its failing line marked `--> 253` below it
_IPYTHON_OLD = re.compile(rf"^\s*(\S+\.{_EXT}) in ([A-Za-z_<>][\w<>]*)\(", re.M)
_ARROW = re.compile(r"^-*>\s*(\d+)", re.M)
# at com.x.Y.method(Y.java:12) / at com.x.Y$Inner.lambda$run$0 (Y.java:12)
_JVM = re.compile(r"\bat\s+((?:[\w$]+\.)+)([\w$<>]+)\s?\(([\w$-]+\.(?:java|kt|scala|groovy)):(\d+)\)")
# src/x.rs:12:5, /go/src/pkg/f.go:88, (webpack:///./src/a.ts:3:9), include/j.hpp:862:17: error
_LOCATION = re.compile(r"(?<![\w/.-])((?:[A-Za-z]:)?(?:[\w.@+-]*/)*[\w.+-]+\." + _EXT + r")"
                       r"(?::(\d+)(?::\d+)?\b|\((\d+)(?:,\d+)?\)\s*:)")  # gcc/clang/rustc/go/node; MSVC
# A link to a file of the repository: github.com/o/r/blob/<ref>/path/x.rs#L379 (GitLab's /-/blob/ too).
_LINK = re.compile(r"/(?:-/)?blob/[\w.-]+/((?:[\w.@+-]+/)*[\w.+-]+\." + _EXT + r")(?:#L(\d+))?")
# The function a JavaScript frame names before its location: "at render (src/a.js:3:9)".
_JS_FUNCTION = re.compile(r"\bat\s+(?:async\s+)?([\w$.<>]+)\s+\($")
# Traces printed failing frame first, one frame a line (a Go frame's function line above its file).
# The function is group 1 (may be absent), the path group 2, the line group 3.
_GO_FRAME = re.compile(r"^\s*([^\s()]+?\.\(\*?[^\s()]+\)\.[^\s()]+|[^\s()]+)\([^\n]*\)\n\s+((?:[A-Za-z]:)?[^\s:]+\.go)"
                       r":(\d+)", re.M)
_GDB_FRAME = re.compile(rf"^\s*#\d+\s+(?:0x[0-9a-fA-F]+\s+in\s+)?([\w:~<>$.]+)\s*(?:\([^\n]*?\))?\s+(?:at\s+)?"
                        rf"((?:[A-Za-z]:)?[^\s:()]+\.{_EXT}):(\d+)(?::\d+)?", re.M)
_JS_FRAME = re.compile(rf"^\s*at\s+(?:async\s+)?(?:([\w$.<>\[\]]+)\s+\()?(?:file://)?"
                       rf"((?:[A-Za-z]:)?[^\s()]+?\.{_EXT}):(\d+)(?::\d+)?\)?[ \t]*$", re.M)
# RUST_BACKTRACE=1: `  12: mycrate::io::read_to_end` over `             at ./src/io.rs:10:5`.
_RUST_FRAME = re.compile(r"^\s*\d+:\s+(?:0x[0-9a-f]+\s+-\s+)?(\S+)\n\s+at\s+((?:[A-Za-z]:)?[^\s:]+\.rs):(\d+)"
                         r"(?::\d+)?", re.M)
_FAILING_FIRST = (_GO_FRAME, _GDB_FRAME, _RUST_FRAME, _JS_FRAME)  # Rust before JS: both have `at path`
# What may lie between two frames of one trace: the rest of a line (`+0x1d`, `:7)`) and blank space.
_BETWEEN_FRAMES = re.compile(r"[^\n]*\n\s*")
# Parts of a Go or C++ frame's name that are not the function: closures (func1, 2), generics.
_ANONYMOUS = re.compile(r"^(?:func\d+|\d+|gowrap\d+|\{\{closure\}\}|h[0-9a-f]{16})$")
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


def linked_paths(text: str) -> list[str]:
    """Repository files the text links to (a line anchor also makes the link a frame)."""
    return [m.group(1) for m in _LINK.finditer(text)]


def find_frames(text: str) -> tuple[Frame, ...]:
    """Every frame and file:line location the text shows, each traceback innermost last."""
    text = text.replace("\\", "/")
    found: list[tuple[int, Frame]] = []
    taken: list[tuple[int, int]] = []  # spans already read, so one location is not read twice

    def add(start: int, end: int, frame: Frame, key: int | None = None) -> None:
        if any(a <= start < b or start <= a < end for a, b in taken):
            return
        taken.append((start, end))
        found.append((start if key is None else key, frame))

    # The most specific shapes first: a later, looser one never reads a location twice.
    for m in _CPYTHON.finditer(text):
        add(m.start(), m.end(), Frame(m.group(1), int(m.group(2)), m.group(3) or ""))
    for m in _IPYTHON.finditer(text):
        add(m.start(), m.end(), Frame(m.group(1), int(m.group(2)), (m.group(3) or "").rsplit(".", 1)[-1]))
    headers = list(_IPYTHON_OLD.finditer(text))
    for i, m in enumerate(headers):
        stop = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        arrow = _ARROW.search(text, m.end(), stop)
        if arrow is not None:
            add(m.start(), m.end(), Frame(m.group(1), int(arrow.group(1)), m.group(2)))
    jvm = list(_JVM.finditer(text))
    for m in jvm:  # a JVM trace lists the failing frame first: mirror it within its span
        owner = m.group(1).rstrip(".").split(".")
        method = m.group(2).split("$")[0]
        function = owner[-1].split("$")[0] if method.startswith("<") else method  # <init>: the class
        path = "/".join([*owner[:-1], m.group(3)])  # the package's folders; the class names the file
        add(m.start(), m.end(), Frame(path, int(m.group(4)), function), jvm[0].start() + jvm[-1].start() - m.start())
    for pattern in _FAILING_FIRST:
        for run in _runs(text, list(pattern.finditer(text))):
            for m in run:  # mirrored within the run, as JVM traces are
                frame = Frame(m.group(2), int(m.group(3)), _function_name(m.group(1) or ""))
                add(m.start(), m.end(), frame, run[0].start() + run[-1].start() - m.start())
    for m in _LINK.finditer(text):
        if m.group(2):
            add(m.start(), m.end(), Frame(m.group(1), int(m.group(2)), ""))
    for m in _LOCATION.finditer(text):
        before = _JS_FUNCTION.search(text, max(0, m.start() - 200), m.start())
        name = before.group(1).rsplit(".", 1)[-1] if before and before.end() == m.start() else ""
        add(m.start(), m.end(), Frame(m.group(1), int(m.group(2) or m.group(3)), name))
    for m in _AT_LINE.finditer(text):
        add(m.start(), m.end(), Frame(m.group(1), int(m.group(2)), ""))
    for m in _LINE_OF.finditer(text):
        add(m.start(), m.end(), Frame(m.group(2), int(m.group(1)), ""))
    return tuple(frame for _, frame in sorted(found, key=lambda item: item[0]))


def _runs(text: str, matches: list[re.Match[str]]) -> list[list[re.Match[str]]]:
    """Matches grouped into traces: consecutive frames with nothing but line ends between them."""
    runs: list[list[re.Match[str]]] = []
    for m in matches:
        if runs and _BETWEEN_FRAMES.fullmatch(text, runs[-1][-1].end(), m.start()):
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs


def _function_name(qualified: str) -> str:
    """The function a frame's qualified name ends in: `pkg/x.(*T).Run.func1` → Run, `a::B::f` → f."""
    last = qualified.replace("::", ".").rsplit("/", 1)[-1]
    parts = [p for p in re.sub(r"\[[^\]]*\]", "", last).split(".") if p and not p.startswith("(")]
    while len(parts) > 1 and _ANONYMOUS.match(parts[-1]):
        parts.pop()
    return parts[-1] if parts else ""
