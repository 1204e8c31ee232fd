"""Exact signals: identifiers, paths, modules and stack frames of the query, found in the index.

These are the strongest evidence a bug report carries: an issue that names
`Dataset.to_json_dict` or shows `File ".../pvlib/iam.py", line 92, in physical` points at
code directly, and no amount of word statistics should outrank that.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prism.models import ChunkHead
from prism.retrieve.modules import by_module_name, match_qualified, match_stem
from prism.retrieve.query import ParsedQuery, looks_like_code, prose_words, written_in_cjk
from prism.retrieve.trace import Frame

MAX_DEFINITIONS = 40  # a name defined in more places than this says little (e.g. "__init__")
# Chunks of one name read to count its places: overloads (Java's thirty `JSON.parseObject`, C++'s
# declaration and definition) are one place; beyond this many chunks a name is never specific.
MAX_OVERLOAD_CHUNKS = 400
PLAIN_NAME_WEIGHT = 1.0  # a plain word that is exactly a defined name counts as a code-like name
_ADJACENT = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s+(?=([A-Za-z_]\w*))")
_GENERIC_STEMS = frozenset({"__init__", "__main__", "utils", "util", "base", "core", "main",
                            "test", "tests", "conftest", "setup", "types", "common", "helpers"})


class SymbolStore(Protocol):
    def find_refs(self, names: Iterable[str], kind: str = "defines") -> list[tuple[int, str]]: ...

    def heads_in_file(self, path: str) -> list[ChunkHead]: ...

    def get_heads(self, ids: Sequence[int]) -> list[ChunkHead]: ...


@dataclass(frozen=True)
class PathTable:
    """The index's file paths grouped by file name; built once per index generation, since
    grouping 50k+ paths on every query costs more than the rest of exact matching."""

    by_name: dict[str, list[str]]
    by_module: dict[str, list[str]] = field(default_factory=dict)  # retrieve/modules.py

    @classmethod
    def build(cls, paths: Iterable[str]) -> PathTable:
        paths = list(paths)
        by_name: dict[str, list[str]] = {}
        for path in paths:
            by_name.setdefault(posixpath.basename(path), []).append(path)
        return cls(by_name, by_module_name(paths))


def _table(paths: Sequence[str] | PathTable) -> PathTable:
    return paths if isinstance(paths, PathTable) else PathTable.build(paths)


@dataclass(frozen=True)
class ExactMatches:
    """Chunk scores from named symbols, file scores from named paths, chunks hit by frames;
    `named`: the query's plain words that turned out to name a definition ("Client")."""

    symbols: dict[int, float]
    files: dict[str, float]
    frames: dict[int, float]
    named: tuple[str, ...] = ()


def _name_weights(query: ParsedQuery) -> dict[str, float]:
    """Every name worth looking up, with how sure we are that it is meant as code."""
    counts = query.term_counts
    weights: dict[str, float] = {}

    def add(name: str, weight: float) -> None:
        tf = counts.get(name.lower(), 1)
        weights[name] = max(weights.get(name, 0.0), weight * (1 + 0.3 * math.log(max(tf, 1))))

    code_words = set(query.code_words)
    for name in query.identifiers:
        if looks_like_code(name):
            add(name, 1.0)
        elif len(name) >= 4 and not name.isupper():  # SQL keywords, "fix", "get": noise
            add(name, 0.3 if name in code_words else 0.2)
    for name in query.qualified:
        add(name, 1.5)  # the qualified form ("Class.method") is stored as a definition too
        parts = name.split(".")
        for i in range(1, len(parts) - 1):  # "mod.Class.method" → "Class.method"
            add(".".join(parts[i:]), 1.3)
    for frame in query.frames:
        if frame.function and not frame.function.startswith("<"):
            add(frame.function, 1.0)
    return weights


def _plain_names(query: ParsedQuery) -> list[str]:
    """Plain words of a short query that may name a definition: the whole query when it is one
    word ("send"), else its capitalised words ("how is Limits compared"; an acronym only in
    a question written in CJK script, where `JSON` is a name and not a shout). Lower-case words of
    a question ("sort a list") are left to the text rankings: too many of them name something."""
    if query.is_long:
        return []
    words = prose_words(query)
    if len(query.text.split()) == 1:
        return words
    # In a question written in CJK script its Latin words are names, an acronym too ("JSON").
    acronyms = written_in_cjk(query.text)
    named = [w for w in words if w[0].isupper() and (acronyms or not w.isupper())]
    # "Calculator total" also names the method `Calculator.total` (stored qualified too).
    pairs = [f"{a}.{b}" for a, b in _ADJACENT.findall(query.text) if a in named]
    return pairs + named


def match_symbols(query: ParsedQuery, store: SymbolStore) -> dict[int, float]:
    """Chunk id → strength of the definitions the query names (rarer names count more)."""
    return _match_definitions(query, store)[0]


def _match_definitions(query: ParsedQuery, store: SymbolStore
                       ) -> tuple[dict[int, float], tuple[str, ...]]:
    """match_symbols, and which of the query's plain words name a definition.

    A plain word that is exactly a defined name ("Client", "Limits") weighs as much as a
    code-like one: a user who types a class name wants the class, not the words it shares
    with `ClientState` or a changelog.
    """
    weights = _name_weights(query)
    plain = [w for w in _plain_names(query) if w not in weights]
    for word in plain:  # a class and a member written side by side weigh as a qualified name
        weights[word] = 1.5 * PLAIN_NAME_WEIGHT if "." in word else PLAIN_NAME_WEIGHT
    if not weights:
        return {}, ()
    by_name: dict[str, list[int]] = {}
    for chunk_id, name in store.find_refs(list(weights), "defines"):
        by_name.setdefault(name, []).append(chunk_id)
    places = _places(store, by_name)
    scores: dict[int, float] = {}
    for name, ids in by_name.items():
        if name not in places:
            continue
        value = weights[name] / (1.0 + math.log(places[name]))
        for chunk_id in set(ids):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + value
    named = tuple(w for w in plain if w in places)
    return scores, named


def _places(store: SymbolStore, by_name: dict[str, list[int]]) -> dict[str, int]:
    """In how many places each name is defined (a place: one definition's file and qualified
    name), for the names defined in at most MAX_DEFINITIONS places: how specific the name is.
    Java's or C++'s overloads of one method are one place, or naming an overloaded method counts
    for as little as a word every class uses; ten types' `default` are still ten."""
    distinct = {name: set(ids) for name, ids in by_name.items()}
    many = sorted({cid for ids in distinct.values() if 1 < len(ids) <= MAX_OVERLOAD_CHUNKS for cid in ids})
    place_of = {h.id: (h.path, h.qualified_name) for h in store.get_heads(many)} if many else {}
    out: dict[str, int] = {}
    for name, ids in distinct.items():
        if len(ids) > MAX_OVERLOAD_CHUNKS:
            continue
        places = len({place_of.get(cid, (str(cid), "")) for cid in ids}) if len(ids) > 1 else 1
        if places <= MAX_DEFINITIONS:
            out[name] = places
    return out


def _suffix_parts(path: str) -> list[str]:
    return [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "..")]


def match_paths(query: ParsedQuery, paths: Sequence[str] | PathTable) -> dict[str, float]:
    """Indexed path → how directly the query names it (1.0: path or module; less: only a stem)."""
    table = _table(paths)
    by_name = table.by_name
    scores: dict[str, float] = {}

    def add(path: str, value: float) -> None:
        scores[path] = max(scores.get(path, 0.0), value)

    for written in query.paths:
        parts = _suffix_parts(written)
        if not parts:
            continue
        for path in by_name.get(parts[-1], ()):
            have = path.split("/")
            common = 0
            while (common < min(len(parts), len(have))
                   and parts[-1 - common] == have[-1 - common]):
                common += 1
            if common >= 2 or len(have) == 1:
                add(path, 1.0)
            elif posixpath.splitext(parts[-1])[0] not in _GENERIC_STEMS:
                add(path, 0.5 / len(by_name[parts[-1]]) ** 0.5)
    # Dotted and scoped names: pvlib.iam.physical → pvlib/iam.py, tokio::io::Interest →
    # tokio/src/io/interest.rs, org.x.MockUtil.getMockMaker → …/org/x/MockUtil.java.
    scoped = set(query.scoped)
    for name in query.qualified:
        for path, value in match_qualified(name, table.by_module, _GENERIC_STEMS, name in scoped).items():
            add(path, value)
    # A code-like word that is exactly a file's name ("L031" → rules/L031.py, AsyncFd → async_fd.rs).
    for word in (*query.identifiers, *query.code_words):
        if looks_like_code(word):
            for path, value in match_stem(word, table.by_module, _GENERIC_STEMS).items():
                add(path, value)
    return scores


def match_frames(query: ParsedQuery, store: SymbolStore, files: dict[str, float],
                 paths: Sequence[str] | PathTable) -> dict[int, float]:
    """Chunks that hold a stack frame's line, or are its function (later frames weigh more:
    closer to the failure; only frames in indexed files count in that order)."""
    found: dict[int, float] = {}
    by_name = _table(paths).by_name
    resolved: list[tuple[Frame, str]] = []
    for frame in query.frames:
        parts = _suffix_parts(frame.path)
        if not parts:
            continue
        matches = [p for p in by_name.get(parts[-1], ())
                   if len(parts) == 1 or p.endswith("/".join(parts[-2:])) or "/" not in p]
        if len(matches) == 1:
            resolved.append((frame, matches[0]))
    for index, (frame, path) in enumerate(resolved):
        weight = 0.5 + 0.5 * (index + 1) / len(resolved)
        for cid, share in frame_chunks(frame, store.heads_in_file(path)).items():
            found[cid] = max(found.get(cid, 0.0), weight * share)
    return found


def frame_chunks(frame: Frame, heads: Sequence[ChunkHead]) -> dict[int, float]:
    """Chunk id → how surely it is the frame's code: 1 for the frame's function (of several
    so named, the one nearest the line: line numbers drift between versions) or, when the frame
    names none, the chunk holding the line; half for the others so named or holding the line."""
    holding = [h for h in heads if h.start_line <= frame.line <= h.end_line]
    named = [h for h in heads if frame.function and frame.function in (h.name, h.qualified_name)]
    if not named:
        return {h.id: 1.0 if not frame.function else 0.5 for h in holding}

    def distance(h: ChunkHead) -> int:
        return max(h.start_line - frame.line, frame.line - h.end_line, 0)

    out = {h.id: 0.5 for h in (*holding, *named)}
    out[min(named, key=lambda h: (distance(h), h.start_line)).id] = 1.0
    return out


def match_exact(query: ParsedQuery, store: SymbolStore,
                paths: Sequence[str] | PathTable) -> ExactMatches:
    table = _table(paths)
    files = match_paths(query, table)
    symbols, named = _match_definitions(query, store)
    return ExactMatches(symbols=symbols, files=files,
                        frames=match_frames(query, store, files, table), named=named)
