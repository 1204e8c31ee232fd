"""What a path says about a file's role: code or prose, and whether it lives among tests,
fixtures, examples or docs (rarely where a reported bug is fixed; indexed after the source)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from prism.errors import InputError

Place = Literal["code", "tests", "docs"]
Scope = Literal["all", "code", "tests", "docs"]
SCOPES: tuple[Scope, ...] = ("all", "code", "tests", "docs")

CODE_LANGUAGES = frozenset({
    "python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "csharp", "ruby",
    "php", "kotlin", "swift", "scala", "bash", "lua"})
SECONDARY_DIRS = frozenset({"test", "tests", "testing", "fixtures", "examples", "example", "samples", "sample",
                            "demo", "demos", "docs", "doc", "benchmarks", "benchmark", "bench", "benches"})


def is_code(language: str | None) -> bool:
    return language in CODE_LANGUAGES


VENDORED_DIRS = frozenset({"vendor", "vendored", "_vendor", "third_party", "thirdparty", "third-party", "3rdparty",
                           "external", "extern", "deps", "dependencies", "node_modules"})
# Amalgamated copies of a project's own sources (nlohmann's single_include/, simdjson's
# singleheader/) and build output: a fix goes into the originals, never these.
GENERATED_DIRS = frozenset({"single_include", "singleheader", "amalgamation", "amalgamated", "dist"})
GENERATED_SUFFIXES = ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi", ".pb.go", ".pb.cc", ".pb.h", ".min.js",
                      ".min.css", ".generated.ts", ".generated.cs", ".g.dart", "_generated.go",
                      ".gen.go", "_mock.go", "_mocks.go")  # Go's go:generate output and mockgen doubles
# Go's code generators name their output by prefix too: mockgen's mock_x.go, Kubernetes' zz_generated.*.go.
GENERATED_GO_PREFIXES = ("mock_", "zz_generated")


# Search asks the place of every candidate, and the same files come back query after query:
# the classifiers are pure functions of their arguments, so they remember recent answers.
PATHS_REMEMBERED = 1 << 16


@lru_cache(maxsize=PATHS_REMEMBERED)
def is_generated_or_vendored(path: str) -> bool:
    """Generated code (protobuf stubs, minified bundles) and copies of other projects' code."""
    parts = path.lower().split("/")
    name = parts[-1]
    return (name.endswith(GENERATED_SUFFIXES) or (name.endswith(".go") and name.startswith(GENERATED_GO_PREFIXES))
            or any(p in VENDORED_DIRS or p in GENERATED_DIRS for p in parts[:-1]))


@lru_cache(maxsize=PATHS_REMEMBERED)
def in_secondary_place(path: str) -> bool:
    """Test files (`place_of`), generated or vendored code, and anything under a test, fixture,
    example, doc or benchmark folder."""
    return (place_of(path) == "tests" or any(p in SECONDARY_DIRS for p in path.split("/")[:-1])
            or is_generated_or_vendored(path))


TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs", "fixtures", "testdata",
                       "integration-test", "integration-tests", "integration_tests", "e2e", "__mocks__"})
# Test crates and suites named after what they test: test_suite/, tokio-test/, tests-integration/.
_TEST_DIR_AFFIX = re.compile(r"^tests?[-_]|[-_]tests?$")
TEST_SUFFIXES = ("_test.py", "_test.go", "_test.rs", "_test.rb", "_spec.rb", "_test.cc", "_test.cpp",
                 "_test.c", "_tests.c", "_unittest.c", "_unittest.cc", "_unittest.cpp",  # C/C++ suites
                 "_test.ts", "_test.tsx", "_test.js")  # Deno's and Bun's x_test.ts
# Case-sensitive: FooTest.java is a test, latest.java is not.
CLASS_TEST_SUFFIXES = ("Test.java", "Tests.java", "Test.kt", "Tests.kt", "Test.cs", "Tests.cs", "Tests.swift")
TEST_INFIXES = (".test.", ".spec.")  # foo.test.ts, foo.spec.js, foo.spec.tsx
DOC_DIRS = frozenset({"docs", "doc", "documentation", "man", "locale", "locales"})
DOC_SUFFIXES = (".md", ".mdx", ".markdown", ".rst", ".adoc", ".asciidoc", ".po", ".pot")
DOC_STEMS = frozenset({"changelog", "changes", "history", "news", "releases", "release-notes",
                       "readme", "authors", "contributors", "license", "licence", "copying", "notice"})


@lru_cache(maxsize=PATHS_REMEMBERED)
def place_of(path: str, kind: str = "") -> Place:
    """Where a chunk lives: tests, docs (prose, changelogs, translations) or code (the rest).

    The one classifier behind `--scope`/`--code-only`, the packer's test pull and test weighting.
    Tests are decided first: a Markdown file under tests/ is a test fixture, not documentation.
    """
    lowered = path.lower()
    parts = lowered.split("/")
    name, folders = parts[-1], parts[:-1]
    if (any(p in TEST_DIRS or _TEST_DIR_AFFIX.search(p) for p in folders)
            or name.startswith("test_") or name == "conftest.py"
            or name.endswith(TEST_SUFFIXES) or path.endswith(CLASS_TEST_SUFFIXES)
            or any(i in name for i in TEST_INFIXES)):
        return "tests"
    stem = name.split(".", 1)[0]
    if (kind == "section" or name.endswith(DOC_SUFFIXES) or stem in DOC_STEMS
            or any(p in DOC_DIRS for p in folders)):
        return "docs"
    return "code"


def in_scope(path: str, kind: str, scope: str) -> bool:
    """Whether a chunk at `path` of `kind` passes a scope filter ("all" passes everything)."""
    return scope == "all" or place_of(path, kind) == scope


def check_scope(scope: str) -> Scope:
    """A scope name, validated (an InputError names the choices)."""
    for known in SCOPES:
        if known == scope:
            return known
    raise InputError(f"Unknown scope {scope!r}.", hint=f"Use one of: {', '.join(SCOPES)}.", value=scope)
