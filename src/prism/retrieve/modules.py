"""The files a qualified name or a type name points at, whatever the language's layout.

`pvlib.iam.physical` → pvlib/iam.py, `com.x.registry.RegistryAuthenticator` →
…/src/main/java/com/x/registry/RegistryAuthenticator.java, `tokio::io::Interest` →
tokio/src/io/interest.rs, `simdjson::ondemand::field` → include/simdjson/generic/ondemand/field.h
(and its field-inl.h), `MockUtil` → MockUtil.java, `AsyncFd` → async_fd.rs. A file is keyed by
its path as a module name: folders that only hold sources (`src`, `main/java`, `include`) and
file names that stand for their folder (`mod.rs`, `__init__.py`, `index.ts`) drop out, and every
segment is compared without case, `_` or `-`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence

from prism.ingest.languages import detect_language
from prism.ingest.paths import is_code

# Folders of a source layout that are not part of the module name.
SOURCE_FOLDERS = frozenset({"src", "source", "sources", "lib", "include", "main", "java", "kotlin", "scala"})
# File stems that name their folder's module rather than one of their own.
FOLDER_STEMS = frozenset({"mod", "__init__", "index", "lib"})
# A C/C++ inline or implementation file belongs to the header it completes: field-inl.h ↔ field.h.
_COMPANION = re.compile(r"(?<=.)[-_.](?:inl|inline|impl|priv|private)$", re.I)
MODULE_WEIGHT = 0.9  # two or more segments agree with the file's module path
STEM_WEIGHT = 0.7  # only a type or file name agrees (shared out among the files that have it)


def segment(word: str) -> str:
    """A name segment as compared: 'async_fd', 'AsyncFd' and 'async-fd' are one."""
    return word.lower().replace("_", "").replace("-", "")


def module_key(path: str) -> tuple[str, ...]:
    """A file's path as a module name: 'tokio/src/io/mod.rs' → ('tokio', 'io')."""
    folders, name = posixpath.split(path)
    stem = _COMPANION.sub("", name.split(".", 1)[0])
    parts = [segment(p) for p in folders.split("/") if p and p not in SOURCE_FOLDERS]
    if stem not in FOLDER_STEMS:
        parts.append(segment(stem))
    return tuple(p for p in parts if p)


def by_module_name(paths: Iterable[str]) -> dict[str, list[str]]:
    """Code files by the last segment of their module key (built once per index generation);
    a type name never means a stylesheet or a page (`GitHub` → github.css)."""
    out: dict[str, list[str]] = {}
    for path in paths:
        if not is_code(detect_language(path)):
            continue
        key = module_key(path)
        if key:
            out.setdefault(key[-1], []).append(path)
    return out


def _agreeing(name: Sequence[str], key: Sequence[str]) -> int:
    """How many trailing segments of `name` and `key` are equal."""
    n = 0
    while n < min(len(name), len(key)) and name[-1 - n] == key[-1 - n]:
        n += 1
    return n


def match_qualified(name: str, table: dict[str, list[str]], generic: frozenset[str],
                    scoped: bool = False) -> dict[str, float]:
    """Files a dotted name (`a.b.C.method`) points at: the longest prefix that is a module path
    (MODULE_WEIGHT), else an owner segment that is only a file's name (shared STEM_WEIGHT): a
    capitalised one (`MockUtil.getMockMaker`), or any when the name was written scoped
    (`field::key`: a lower-case owner of a dotted name is as often a variable)."""
    written = name.split(".")
    segments = [segment(s) for s in written]
    for end in range(len(segments), 0, -1):
        hits = {p: _agreeing(segments[:end], module_key(p)) for p in table.get(segments[end - 1], ())}
        modules = {p: MODULE_WEIGHT for p, n in hits.items() if n >= 2}
        if modules:
            return modules
    for end in range(len(segments), 0, -1):  # `MockUtil.getMockMaker`: the class names the file
        head = written[end - 1]
        if (scoped or head[:1].isupper()) and head.lower() not in generic and segments[end - 1] in table:
            return match_stem(head, table, generic)
    return {}


def match_stem(word: str, table: dict[str, list[str]], generic: frozenset[str]) -> dict[str, float]:
    """Files whose own name is the word (`DockerConfig` → DockerConfig.java, `AsyncFd` → async_fd.rs).

    A file named like a class (NotNull.java) is not named by a lower-case word (`notNull`: in
    the languages that name files after classes, that is a method or a variable)."""
    if word.lower() in generic:
        return {}
    hits = [p for p in table.get(segment(word), []) if word[:1].isupper() or not _class_named(p)]
    return {p: STEM_WEIGHT / len(hits) ** 0.5 for p in hits}


def _class_named(path: str) -> bool:
    """True for a file whose name starts with a capital letter (Java's, Kotlin's, C#'s classes)."""
    return posixpath.basename(path)[:1].isupper()


def companions(paths: Iterable[str]) -> dict[str, list[str]]:
    """C and C++ files that complete one another, among `paths`: a header and its inline or
    implementation file (field.h ↔ field-inl.h, include/x/a.h ↔ src/x/a.cpp: one module key) or
    its twin in a sibling folder (dom/element.h ↔ inline/element.h). A declaration and its
    definition change together, and only the definition holds the issue's words."""
    by_stem: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for path in paths:
        key = module_key(path)
        if key:
            by_stem.setdefault(key[-1], []).append((path, key))
    out: dict[str, list[str]] = {}
    for group in by_stem.values():
        for path, key in group:
            for other, other_key in group:
                if other != path and _twins(key, other_key):
                    out.setdefault(path, []).append(other)
    return out


def _twins(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Equal module keys, or equal but for the folder just above the file."""
    return a == b or (len(a) == len(b) >= 3 and a[:-2] == b[:-2] and a[-1] == b[-1])

