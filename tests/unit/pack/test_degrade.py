"""The degradation ladder keeps what each level promises and never grows."""

from __future__ import annotations

import pytest
from pack_samples import PY_SOURCE, make_chunk

from prism.models import LEVELS
from prism.pack import degrade
from prism.pack.degrade import render
from prism.pack.memo import Memo


def test_light_strips_comments_and_blank_lines_but_keeps_strings() -> None:
    chunk = make_chunk(PY_SOURCE + 'x = "# not a comment"\n')
    light = render(chunk, "light")
    assert "# a module comment" not in light and "# strip it" not in light
    assert "trailing comment" not in light
    assert '"# not a comment"' in light
    assert "\n\n" not in light
    assert '"""Read a file.' in light  # docstrings stay


def test_skeleton_elides_bodies_keeps_signatures_docstring_line_and_returns() -> None:
    skeleton = render(make_chunk(PY_SOURCE), "skeleton")
    assert "def load(path):" in skeleton and "def put(self, key, value):" in skeleton
    assert '"""Read a file."""' in skeleton  # first line, closed
    assert "More words" not in skeleton
    assert "text = open(path)" not in skeleton
    assert "raise ValueError" not in skeleton  # nested inside `if`, not a top-level statement
    assert "return text.strip()" in skeleton
    assert "    ..." in skeleton
    assert "limit = 10" in skeleton  # class-level statements stay


@pytest.mark.parametrize(("language", "source", "kept", "gone"), [
    ("go", "func Add(a int, b int) int {\n\t// sum\n\tc := a + b\n\tc++\n\treturn c\n}\n",
     ["func Add(a int, b int) int {", "return c", "}"], ["c++", "// sum"]),
    ("javascript", "function add(a, b) {\n  const c = a + b; // x\n  log(c);\n  return c;\n}\n",
     ["function add(a, b) {", "return c;"], ["log(c)", "// x"]),
    ("rust", "fn add(a: i32) -> i32 {\n    let b = a * 2;\n    b + 1\n}\n",
     ["fn add(a: i32) -> i32 {"], ["let b"]),
])
def test_skeleton_other_languages(language: str, source: str, kept: list[str], gone: list[str]) -> None:
    skeleton = render(make_chunk(source, language=language, path=f"x.{language}"), "skeleton")
    for text in kept:
        assert text in skeleton
    for text in gone:
        assert text not in skeleton


def test_indented_method_chunk_keeps_its_indentation() -> None:
    method = '    def put(self, key):\n        """Put."""\n        self.x = key\n        return 1\n'
    skeleton = render(make_chunk(method, kind="method", name="put"), "skeleton")
    assert skeleton.split("\n")[0] == "    def put(self, key):"
    assert "        return 1" in skeleton


def test_signature_and_reference() -> None:
    chunk = make_chunk(PY_SOURCE, signature="def load(path):")
    assert render(chunk, "signature") == "def load(path):"
    assert render(chunk, "reference") == ""


def test_prose_skeleton_keeps_headings_and_first_lines() -> None:
    text = "# Title\n\nFirst line.\nSecond line.\n\n## Part\n\nMore.\nAnd more.\n"
    skeleton = render(make_chunk(text, language="markdown", kind="section", path="README.md"), "skeleton")
    assert skeleton == "# Title\nFirst line.\n## Part\nMore."


@pytest.mark.parametrize("language", ["python", "go", "c", "text", "markdown", "unknownlang"])
def test_levels_never_grow(language: str) -> None:
    chunk = make_chunk(PY_SOURCE, language=language)
    sizes = [len(render(chunk, level)) for level in LEVELS]
    assert sizes == sorted(sizes, reverse=True)


def test_rendered_levels_are_memoised_identically_and_within_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    memo: Memo[tuple[str, str, str], tuple[str, str, str]] = Memo(8_000, degrade._weigh)
    monkeypatch.setattr(degrade, "_RENDERS", memo)
    sources = [("python", PY_SOURCE), ("go", "func Add(a int) int {\n\t// sum\n\treturn a + 1\n}\n"),
               ("markdown", "# Title\n\nFirst.\nSecond.\n"), ("unknownlang", "a\n  b\nc\n")]
    chunks = [make_chunk(f"{source}\n{'#' if language == 'python' else '//'} v{i}\n", language=language,
                         signature="def load(path):" if i % 2 else "")
              for i in range(12) for language, source in sources]
    fresh = [degrade._render_levels(chunk) for chunk in chunks]
    for _ in range(2):  # first misses, then (for the entries still kept) hits
        assert [degrade.render_levels(chunk) for chunk in chunks] == fresh
        assert [[render(chunk, level) for level in LEVELS[1:4]] for chunk in chunks] == [list(f) for f in fresh]
        assert 0 < memo.weight <= 8_000 and len(memo) < len(chunks)
    assert degrade.render_levels(chunks[-1]) is degrade.render_levels(chunks[-1])  # served from the memo


FILE_WITH_UNITS = '''"""A module."""
import os  # the os


def helper(a, b):
    """Add them.

    Twice over.
    """
    # a comment line
    total = a + b  # trailing
    return total


class Store:
    """Keeps things."""

    limit = 3  # class-level

    def get(self, key):
        # look it up
        if key in self.items:
            raise KeyError(key)
        return self.items[key]

    def put(self, key, value):
        def inner():
            return value  # nested
        self.items[key] = inner()
        yield key
''' + "\n".join(f"    x{i} = {i}  # filler {i}" for i in range(400)) + "\n"


def test_pricing_from_the_files_parse_equals_pricing_from_each_chunks_own() -> None:
    """Index-time pricing reuses the file's one parse (no parse per chunk) and gets the levels
    `render` gives from the chunk's own parse: whole units, methods, and the parts of a unit
    too big for one chunk (cut at statement boundaries, so a function may start in one part)."""
    from prism.index.parse_pool import priced
    from prism.ingest.chunk import chunk_file_with_tree
    from prism.pack.tokens import get_tokenizer

    tokenizer = get_tokenizer("cl100k_base")
    parsed, tree = chunk_file_with_tree("store.py", FILE_WITH_UNITS, "python", count_tokens=tokenizer.count,
                                        max_chunk_tokens=300)
    assert tree is not None and len(parsed.chunks) >= 5
    from_file = priced(parsed.chunks, tokenizer, FILE_WITH_UNITS, tree)
    alone = priced(parsed.chunks, tokenizer)
    assert [c.level_tokens for c in from_file] == [c.level_tokens for c in alone]
    for chunk in from_file:
        assert chunk.level_tokens is not None
        assert chunk.level_tokens.counts[1:] == tuple(tokenizer.count(render(chunk, level))
                                                      for level in ("light", "skeleton", "signature"))
    skeletons = {c.name: render(c, "skeleton") for c in from_file}
    assert "    ..." in skeletons["helper"] and "# a comment" not in render(from_file[1], "light")


def test_priced_levels_keep_the_texts_counted_and_a_pack_shows_them_without_a_parse(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from prism.pack.tokens import get_tokenizer

    chunk = make_chunk(PY_SOURCE)
    levels = degrade.price_levels(chunk, get_tokenizer("cl100k"))
    assert levels.texts is not None
    assert degrade.stored_levels(replace(chunk, level_tokens=levels)) == degrade._render_levels(chunk)
    fake = replace(chunk, level_tokens=replace(levels, texts='[["L"],[0,"S"],null]'))

    def no_parse(*args: object) -> object:
        raise AssertionError("parsed although the texts were stored")

    monkeypatch.setattr(degrade, "_render_levels", no_parse)
    monkeypatch.setattr(degrade, "_RENDERS", Memo(10_000, degrade._weigh))  # nothing rendered before
    assert [render(fake, level) for level in ("light", "skeleton", "signature")] == ["L", "L\nS", "L\nS"]


@pytest.mark.parametrize("stored", ['[["a"]]', "not json", "[1, 2, 3]", '{"a": 1}', "[[99],null,null]",
                                    "[[[0, 99]],null,null]", "[[true],null,null]"])
def test_unreadable_stored_texts_fall_back_to_rendering(stored: str) -> None:
    from dataclasses import replace

    from prism.models import LevelTokens

    chunk = make_chunk(PY_SOURCE)
    odd = replace(chunk, level_tokens=LevelTokens("cl100k_base", (1, 1, 1, 1), stored))
    assert degrade.stored_levels(odd) is None
    assert degrade.render_levels(odd) == degrade._render_levels(chunk)
