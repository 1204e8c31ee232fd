"""Resolve what `prism show` is given (a handle, `path:start-end`, or a symbol) to original code."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from prism.errors import InputError, NotFoundError, PathError
from prism.ingest.read import read_project_file
from prism.ingest.walk import WalkOptions
from prism.models import StoredChunk
from prism.pack.select import handle_of, symbol_of

_RANGE = re.compile(r"^(?P<path>[^:]+):L?(?P<start>\d+)(?:-L?(?P<end>\d+))?$")
_RANGE_LIKE = re.compile(r"^(?P<path>[^:]+):L?(?P<start>-?\d+)(?:-L?(?P<end>-?\d+))?$")
_HANDLE = re.compile(r"^#?[0-9a-f]{6,64}$")


@dataclass(frozen=True)
class ShownCode:
    """Original source behind a handle, range or symbol."""

    path: str
    start_line: int
    end_line: int
    symbol: str
    handle: str
    content: str

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "symbol": self.symbol, "handle": self.handle, "content": self.content}


class ChunkSource(Protocol):
    """The store reads `show` needs."""

    def get_chunks(self, ids: Sequence[int]) -> list[StoredChunk]: ...

    def chunks_in_file(self, path: str) -> list[StoredChunk]: ...

    def find_refs(self, names: Iterable[str], kind: str = "defines") -> list[tuple[int, str]]: ...


def _from_chunk(stored: StoredChunk) -> ShownCode:
    chunk = stored.chunk
    return ShownCode(chunk.path, chunk.start_line, chunk.end_line, symbol_of(chunk),
                     handle_of(chunk), chunk.content)


def _safe_path(path: str) -> str:
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or "\0" in path:
        raise PathError(f"{path!r} is not a path inside the project.",
                        hint="Use a relative path such as src/app.py:10-40.", value=path)
    return str(pure)


def _range(store: ChunkSource, root: Path, options: WalkOptions, path: str, start: int,
           end: int) -> ShownCode:
    rel = _safe_path(path)
    if end < start:
        start, end = end, start
    chunks = store.chunks_in_file(rel)
    try:  # PathError for what the index would not admit (ignored, outside, binary, not a file)
        lines = read_project_file(root, rel, options).split("\n")
    except NotFoundError:
        lines = []
    if not lines and chunks:  # the file is gone from disk: rebuild the span from the index
        by_line: dict[int, str] = {}
        for stored in chunks:
            for offset, line in enumerate(stored.chunk.content.split("\n")):
                by_line.setdefault(stored.chunk.start_line + offset, line)
        lines = [by_line.get(n, "") for n in range(1, max(by_line) + 1)]
    if not lines or start > len(lines):
        raise NotFoundError(f"{rel}:{start}-{end} is not in the project.",
                            hint="Check the path and line numbers (`prism search` shows both).",
                            value=f"{rel}:{start}-{end}")
    end = min(end, len(lines))
    inside = [s.chunk for s in chunks if s.chunk.start_line <= start and end <= s.chunk.end_line]
    symbol = symbol_of(min(inside, key=lambda c: c.end_line - c.start_line)) if inside else ""
    return ShownCode(rel, start, end, symbol, "", "\n".join(lines[start - 1:end]))


def _check_range(text: str) -> None:
    """A path:start-end range must run forwards from line 1: anything else is a clear error."""
    shaped = _RANGE_LIKE.match(text)
    if shaped is None:
        return
    start, end = int(shaped.group("start")), int(shaped.group("end") or shaped.group("start"))
    if start < 1 or end < start:
        raise InputError(f"{text!r} is not a line range: lines count from 1 and run start-end, "
                         "start first.", hint=f"Use e.g. {shaped.group('path')}:10-40.", value=text)


def find_chunks(target: str, store: ChunkSource, by_hash: Callable[[str], list[int]],
                root: Path, options: WalkOptions) -> list[ShownCode]:
    """Everything `target` names; raises NotFoundError when it names nothing.

    Handles and symbols answer from the index; a range reads the file through
    `read_project_file`, which serves only what the index would admit (`options` as indexing).
    """
    text = target.strip()
    _check_range(text)
    match = _RANGE.match(text)
    if match:
        start = int(match.group("start"))
        end = int(match.group("end") or start)
        return [_range(store, root, options, match.group("path"), start, end)]
    if _HANDLE.match(text.lower()):
        found = store.get_chunks(by_hash(text.lower().lstrip("#")))
        if found:
            return [_from_chunk(found[0])]
    ids = [cid for cid, _ in store.find_refs([text], "defines")]
    if ids:
        return [_from_chunk(s) for s in store.get_chunks(sorted(set(ids)))]
    if "/" in text or "." in text:
        chunks = store.chunks_in_file(text)
        if chunks:
            return [_from_chunk(s) for s in chunks]
    raise NotFoundError(f"Nothing in the index matches {target!r}.",
                        hint="Pass a handle from `prism context`, a path:start-end range, or a symbol "
                             "name; re-index if the code changed.", value=target)
