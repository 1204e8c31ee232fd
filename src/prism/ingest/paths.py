"""What a path says about a file's role: code or prose, and whether it lives among tests,
fixtures, examples or docs (rarely where a reported bug is fixed; indexed after the source)."""

from __future__ import annotations

CODE_LANGUAGES = frozenset({
    "python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "csharp", "ruby",
    "php", "kotlin", "swift", "scala", "bash", "lua"})
SECONDARY_DIRS = ("test", "tests", "testing", "fixtures", "examples", "docs", "doc", "benchmarks")


def is_code(language: str | None) -> bool:
    return language in CODE_LANGUAGES


def in_secondary_place(path: str) -> bool:
    """Test files (test_x.py, x_test.py, conftest.py) and anything under a test/fixture/doc folder."""
    parts = path.split("/")
    name = parts[-1]
    return (name.startswith("test_") or name.endswith(("_test.py", "conftest.py"))
            or any(p in SECONDARY_DIRS for p in parts[:-1]))
