"""Which language a file is written in, and the tree-sitter grammar that parses it.

Grammars come from per-language wheels (tree-sitter-python, ...), loaded lazily and
cached: importing this module costs nothing, the first parse of a language ~ms.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath

import tree_sitter


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    module: str  # the grammar wheel's import name
    function: str  # the function in it that returns the language pointer
    extensions: tuple[str, ...]
    filenames: tuple[str, ...] = ()


LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec("python", "tree_sitter_python", "language", (".py", ".pyi", ".pyw")),
        LanguageSpec("javascript", "tree_sitter_javascript", "language", (".js", ".jsx", ".mjs", ".cjs")),
        LanguageSpec("typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts")),
        LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",)),
        LanguageSpec("go", "tree_sitter_go", "language", (".go",)),
        LanguageSpec("rust", "tree_sitter_rust", "language", (".rs",)),
        LanguageSpec("java", "tree_sitter_java", "language", (".java",)),
        LanguageSpec("c", "tree_sitter_c", "language", (".c", ".h")),
        LanguageSpec(
            "cpp", "tree_sitter_cpp", "language", (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".ipp")
        ),
        LanguageSpec("csharp", "tree_sitter_c_sharp", "language", (".cs",)),
        LanguageSpec("ruby", "tree_sitter_ruby", "language", (".rb", ".rake"), ("Rakefile", "Gemfile")),
        LanguageSpec("php", "tree_sitter_php", "language_php", (".php",)),
        LanguageSpec("kotlin", "tree_sitter_kotlin", "language", (".kt", ".kts")),
        LanguageSpec("swift", "tree_sitter_swift", "language", (".swift",)),
        LanguageSpec("scala", "tree_sitter_scala", "language", (".scala", ".sc")),
        LanguageSpec("bash", "tree_sitter_bash", "language", (".sh", ".bash", ".zsh")),
        LanguageSpec("markdown", "tree_sitter_markdown", "language", (".md", ".markdown", ".mdx")),
    )
}

# Text formats we index as line windows or sections without a grammar.
PLAIN_TEXT: dict[str, str] = {
    ".rst": "rst",
    ".txt": "text",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".cfg": "ini",
    ".ini": "ini",
    ".sql": "sql",
    ".html": "html",
    ".css": "css",
    ".lua": "lua",
}

_BY_EXTENSION = {ext: spec.name for spec in LANGUAGES.values() for ext in spec.extensions}
_BY_FILENAME = {fn: spec.name for spec in LANGUAGES.values() for fn in spec.filenames}


# What only C++ writes, for telling a C++ header from a C one by its first bytes (a `.h` file
# parsed with the C grammar loses every class, namespace and template it holds).
_CPP_MARKERS = re.compile(rb"^\s*(?:namespace\s+[\w:]+\s*\{|template\s*<|class\s+\w+[^;]*\{|"
                          rb"using\s+namespace\s|(?:public|private|protected)\s*:|#\s*include\s*<[a-z_]+>\s*$)",
                          re.M)


def detect_language(path: str, head: bytes = b"") -> str | None:
    """The language key for a relative path: a LANGUAGES key, a PLAIN_TEXT value, or None.

    `head` (the file's first bytes, when the caller has read them) tells a C++ `.h` from a C one.
    """
    pure = PurePosixPath(path)
    if pure.name in _BY_FILENAME:
        return _BY_FILENAME[pure.name]
    suffix = pure.suffix.lower()
    if suffix == ".h" and head and _CPP_MARKERS.search(head):
        return "cpp"
    return _BY_EXTENSION.get(suffix) or PLAIN_TEXT.get(suffix)


def has_grammar(language: str | None) -> bool:
    return language in LANGUAGES


@cache
def get_language(name: str) -> tree_sitter.Language:
    """The tree-sitter Language for a LANGUAGES key (KeyError for others)."""
    spec = LANGUAGES[name]
    module = importlib.import_module(spec.module)
    return tree_sitter.Language(getattr(module, spec.function)())


def get_parser(name: str) -> tree_sitter.Parser:
    """A fresh parser (parsers are not thread-safe, languages are)."""
    return tree_sitter.Parser(get_language(name))


def known_languages() -> tuple[str, ...]:
    """Every language name a chunk can carry (grammars, plain-text formats and "text"), sorted."""
    return tuple(sorted({*LANGUAGES, *PLAIN_TEXT.values(), "text"}))
