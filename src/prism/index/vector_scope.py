"""Which files get dense vectors: all but those no search wants by meaning (they stay lexical).

Lock files, changelogs, licences, translations, minified or generated code, vendored trees
and test data read as noise to an embedding model and cost as much to embed as code; a
search for them by name or word still finds them through the full-text index.
"""

from __future__ import annotations

from pathlib import PurePosixPath

_LOCK_FILES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock", "poetry.lock",
    "pipfile.lock", "cargo.lock", "gemfile.lock", "composer.lock", "uv.lock", "pdm.lock",
    "flake.lock", "go.sum", "packages.lock.json", "podfile.lock", "mix.lock", "pubspec.lock",
})
# Stems (name before the first dot, lower case) of release notes and legal boilerplate, in
# files of prose (history.py is code).
_BOILERPLATE_STEMS = frozenset({
    "changelog", "changes", "history", "news", "releases", "release-notes", "release_notes",
    "whatsnew", "license", "licence", "copying", "notice", "authors", "contributors",
})
_SKIPPED_DIRS = frozenset({
    "changelog", "changelog.d", "changes", "newsfragments", "whatsnew", "release-notes",
    "release_notes", "releasenotes",  # release notes, one file per entry
    "locale", "locales", "i18n", "l10n", "translations",  # translations
    "vendor", "vendored", "third_party", "third-party", "thirdparty", "node_modules",
    "__snapshots__",
})
_PROSE_SUFFIXES = frozenset({"", ".md", ".rst", ".txt", ".adoc", ".markdown", ".html"})
_DATA_DIRS = frozenset({"fixtures", "fixture", "testdata", "test_data", "test-data", "data", "samples"})
_DATA_SUFFIXES = frozenset({
    ".json", ".yaml", ".yml", ".xml", ".csv", ".tsv", ".sql", ".txt", ".dat", ".html", ".svg",
})
_ALWAYS_SKIPPED_SUFFIXES = frozenset({
    ".po", ".pot", ".mo", ".xlf", ".xliff", ".map", ".snap", ".lock", ".csv", ".tsv",
})
_GENERATED_ENDINGS = (".min.js", ".min.css", ".min.mjs", ".bundle.js", "_pb2.py", "_pb2_grpc.py",
                      ".pb.go", ".pb.cc", ".pb.h", ".g.dart", ".designer.cs")


def wants_vector(path: str) -> bool:
    """True unless `path` (relative, '/'-separated) is a file no search wants as a vector."""
    parts = PurePosixPath(path.lower()).parts
    if not parts:
        return True
    name, dirs = parts[-1], parts[:-1]
    suffix = PurePosixPath(name).suffix
    if name in _LOCK_FILES or suffix in _ALWAYS_SKIPPED_SUFFIXES or name.endswith(_GENERATED_ENDINGS):
        return False
    if suffix in _PROSE_SUFFIXES and name.split(".", 1)[0] in _BOILERPLATE_STEMS:
        return False
    if any(d in _SKIPPED_DIRS for d in dirs):
        return False
    return not (suffix in _DATA_SUFFIXES and any(d in _DATA_DIRS for d in dirs))
