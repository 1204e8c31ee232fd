"""Stack frames and compiler locations in any language's text: Python tracebacks, Java/Kotlin
`at pkg.Class.method(File.java:12)`, and the `path/file.ext:LINE[:COL]` form of Rust panics,
Go and JavaScript traces and C/C++ compiler errors.

Frames come out innermost last (Python's order): the closer a frame is to the failure, the
more its chunk is worth, whichever order the language prints them in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# File extensions of code a frame or a written path may name.
CODE_EXTENSIONS = ("py", "pyi", "js", "jsx", "mjs", "cjs", "ts", "tsx", "go", "rs", "java", "kt", "scala",
                   "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx", "ipp", "inl", "cs", "rb", "php",
                   "swift", "sh", "lua")
_EXT = "|".join(sorted(CODE_EXTENSIONS, key=len, reverse=True))

_PYTHON = re.compile(r'File "([^"\n]+)", line (\d+)(?:, in ([A-Za-z_<>][\w<>]*))?')
# at com.x.Y.method(Y.java:12) / at com.x.Y$Inner.lambda$run$0 (Y.java:12)
_JVM = re.compile(r"\bat\s+((?:[\w$]+\.)+)([\w$<>]+)\s?\(([\w$-]+\.(?:java|kt|scala|groovy)):(\d+)\)")
# src/x.rs:12:5, /go/src/pkg/f.go:88, (webpack:///./src/a.ts:3:9), include/j.hpp:862:17: error
_LOCATION = re.compile(r"(?<![\w/.-])((?:[A-Za-z]:)?(?:[\w.@+-]*/)*[\w.+-]+\.(?:" + _EXT + r"))"
                       r"(?::(\d+)(?::\d+)?\b|\((\d+)(?:,\d+)?\)\s*:)")  # gcc/clang/rustc/go/node; MSVC
# A link to a file of the repository: github.com/o/r/blob/<ref>/path/x.rs#L379 (GitLab's /-/blob/ too).
_LINK = re.compile(r"/(?:-/)?blob/[\w.-]+/((?:[\w.@+-]+/)*[\w.+-]+\.(?:" + _EXT + r"))(?:#L(\d+))?")
# The function a JavaScript / Go frame names before its location: "at render (src/a.js:3:9)".
_JS_FUNCTION = re.compile(r"\bat\s+(?:async\s+)?([\w$.<>]+)\s+\($")


@dataclass(frozen=True)
class Frame:
    """One stack-trace frame (or compiler location) named in the query."""

    path: str
    line: int
    function: str


def _jvm_frames(text: str) -> list[Frame]:
    """JVM frames as the file path their package implies; printed innermost first, so reversed."""
    out = []
    for m in _JVM.finditer(text):
        package = m.group(1).rstrip(".").split(".")[:-1]  # drop the class: the file names it
        out.append(Frame("/".join([*package, m.group(3)]), int(m.group(4)), m.group(2).split("$")[0]))
    return out[::-1]


def linked_paths(text: str) -> list[str]:
    """Repository files the text links to (a line anchor also makes the link a frame)."""
    return [m.group(1) for m in _LINK.finditer(text)]


def find_frames(text: str) -> tuple[Frame, ...]:
    """Every frame and file:line location the text shows, innermost (or only) last."""
    text = text.replace("\\", "/")
    frames = [Frame(m.group(1), int(m.group(2)), m.group(3) or "") for m in _PYTHON.finditer(text)]
    jvm = _jvm_frames(text)
    frames += jvm
    frames += [Frame(m.group(1), int(m.group(2)), "") for m in _LINK.finditer(text) if m.group(2)]
    seen = {(f.path.rsplit("/", 1)[-1], f.line) for f in frames}
    for m in _LOCATION.finditer(_LINK.sub(" ", text)):
        path, line = m.group(1), int(m.group(2) or m.group(3))
        if (path.rsplit("/", 1)[-1], line) in seen:
            continue
        function = _JS_FUNCTION.search(text, max(0, m.start() - 200), m.start())
        name = function.group(1).rsplit(".", 1)[-1] if function and function.end() == m.start() else ""
        frames.append(Frame(path, line, name))
    return tuple(frames)
