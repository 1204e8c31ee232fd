"""Which files get dense vectors: all but those no search wants by meaning (they stay lexical).

Changelogs, licences, translations, generated code, vendored trees and test data read as
noise to an embedding model and cost as much to embed as code; a search for them by name or
word still finds them through the full-text index. (Lockfiles, minified bundles and tables
are not indexed at all: prism.ingest.walk skips them.)

Tests (`place_of` says "tests") get none either: search demotes them below code unless a query
asks for them by word, and then names them (`test_…`, the function under test), which the
full-text index and the graph find; yet they are often half of a project's chunks (marshmallow:
850 of 1,469 texts, 51 % of the model's tokens), so embedding them was half the cost of a full
index for vectors search ranks below code (benchmarks/results/index_speed.md, 2026-12-03).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from prism.ingest.paths import place_of

# Stems (name before the first dot, lower case) of release notes and legal boilerplate, in
# files of prose (history.py is code).
_BOILERPLATE_STEMS = frozenset({
    "changelog", "changes", "history", "news", "releases", "release-notes", "release_notes",
    "whatsnew", "license", "licence", "copying", "notice", "authors", "contributors",
})
_PROSE_SUFFIXES = frozenset({"", ".md", ".rst", ".txt", ".adoc", ".markdown", ".html"})
_SKIPPED_DIRS = frozenset({
    "changelog", "changelog.d", "changes", "newsfragments", "whatsnew", "release-notes",
    "release_notes", "releasenotes",  # release notes, one file per entry
    "locale", "locales", "i18n", "l10n", "translations",  # translations
    "vendor", "vendored", "third_party", "third-party", "thirdparty", "__snapshots__",
})
_DATA_DIRS = frozenset({"fixtures", "fixture", "testdata", "test_data", "test-data", "data", "samples"})
_DATA_SUFFIXES = frozenset({".json", ".yaml", ".yml", ".xml", ".sql", ".txt", ".html"})
_SKIPPED_SUFFIXES = frozenset({".po", ".pot", ".xlf", ".xliff", ".snap"})
_GENERATED_ENDINGS = ("_pb2.py", "_pb2_grpc.py", ".pb.go", ".pb.cc", ".pb.h", ".g.dart", ".designer.cs")


def wants_vector(path: str) -> bool:
    """True unless `path` (relative, '/'-separated) is a file no search wants as a vector."""
    parts = PurePosixPath(path.lower()).parts
    if not parts:
        return True
    name, dirs = parts[-1], parts[:-1]
    suffix = PurePosixPath(name).suffix
    if suffix in _SKIPPED_SUFFIXES or name.endswith(_GENERATED_ENDINGS):
        return False
    if suffix in _PROSE_SUFFIXES and name.split(".", 1)[0] in _BOILERPLATE_STEMS:
        return False
    if any(d in _SKIPPED_DIRS for d in dirs) or place_of(path) == "tests":
        return False
    return not (suffix in _DATA_SUFFIXES and any(d in _DATA_DIRS for d in dirs))
