"""Pricing queries a file's tree once and gives each chunk the nodes in its byte range: the same
comments, bodies and cut-off answers as a query limited to the chunk's range, and the same
prices and texts as pricing each chunk from its own parse, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter

from prism.index.parse_pool import priced
from prism.ingest.chunk import chunk_file_with_tree
from prism.ingest.languages import LANGUAGES, detect_language, get_parser
from prism.pack import degrade
from prism.pack.tokens import get_tokenizer

ROOT = Path(__file__).resolve().parents[3]
OWN_SOURCES = [
    ROOT / "src" / "prism" / "pack" / "degrade.py",
    ROOT / "src" / "prism" / "engine.py",
    ROOT / "src" / "prism" / "ingest" / "chunk.py",
    ROOT / "tests" / "unit" / "pack" / "test_degrade.py",
]
FIXTURES = sorted(
    p
    for p in (ROOT / "tests" / "fixtures" / "languages").glob("*/*")
    if p.is_file() and detect_language(p.name) in LANGUAGES.keys() - degrade.PROSE_LANGUAGES
)


def ranged_captures(
    language: tree_sitter.Language, root: tree_sitter.Node, bounds: tuple[int, int]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
    """What a query limited to `bounds` answers (one query per chunk, as pricing did before),
    as comment spans and body spans, in order of start (the outermost bodies are disjoint, so
    their order changes no level; a ranged query does not always return them in tree order)."""
    query = degrade._query(language)
    assert query is not None
    cursor = tree_sitter.QueryCursor(query)
    cursor.set_byte_range(*bounds)
    captured = cursor.captures(root)
    low, high = bounds
    functions = captured.get("function", [])
    if any(low <= n.start_byte <= high < n.end_byte for n in functions):
        return None

    def inside(node: tree_sitter.Node) -> bool:
        return low <= node.start_byte and node.end_byte <= high

    comments = sorted((n.start_byte, n.end_byte) for n in captured.get("comment", []) if inside(n))
    with_body = [n for n in functions if inside(n) and degrade._body_of(n) is not None]
    spans = {(n.start_byte, n.end_byte, n.kind_id) for n in with_body}

    def ancestors(node: tree_sitter.Node) -> list[tree_sitter.Node]:
        parent = node.parent
        return [] if parent is None else [parent, *ancestors(parent)]

    outermost = [
        n
        for n in with_body
        if not any(inside(a) and (a.start_byte, a.end_byte, a.kind_id) in spans for a in ancestors(n))
    ]
    bodies = [degrade._body_of(n) for n in outermost]
    return comments, sorted((b.start_byte, b.end_byte) for b in bodies if b is not None)


def chunks_of(path: Path) -> tuple[str, str, tree_sitter.Tree, list[tuple[int, int]]]:
    """(language, text, the file's parse, each chunk's byte range as pricing takes it)."""
    text = path.read_text(encoding="utf-8")
    language = detect_language(path.name)
    assert language is not None
    tokenizer = get_tokenizer("cl100k_base")
    parsed, tree = chunk_file_with_tree(path.name, text, language, count_tokens=tokenizer.count, max_chunk_tokens=400)
    assert tree is not None and len(parsed.chunks) >= 2
    starts = degrade.FileTree.of(tree, text).row_starts
    return language, text, tree, [(starts[c.start_line - 1], starts[c.end_line] - 1) for c in parsed.chunks]


@pytest.mark.parametrize("path", OWN_SOURCES + FIXTURES, ids=lambda p: p.name)
def test_one_query_per_file_gives_each_chunk_what_a_query_over_its_range_gives(path: Path) -> None:
    language, text, tree, ranges = chunks_of(path)
    grammar = get_parser(language).language
    assert grammar is not None
    file_tree = degrade.FileTree.of(tree, text)
    cut_off = 0
    for bounds in ranges:
        found = degrade._captures(file_tree.found(grammar), tree.root_node, bounds)
        expected = ranged_captures(grammar, tree.root_node, bounds)
        cut_off += expected is None
        assert (None if found is None else (found[0], [(b.start_byte, b.end_byte) for b in found[1]])) == expected
    if path.suffix == ".py":  # these files have bodies and comments to find, in most chunks
        assert cut_off < len(ranges) and any(
            degrade._captures(file_tree.found(grammar), tree.root_node, b) for b in ranges
        )


@pytest.mark.parametrize("path", OWN_SOURCES, ids=lambda p: p.name)
def test_pricing_from_the_files_one_query_equals_pricing_each_chunk_alone(path: Path) -> None:
    tokenizer = get_tokenizer("cl100k_base")
    text = path.read_text(encoding="utf-8")
    parsed, tree = chunk_file_with_tree(path.name, text, "python", count_tokens=tokenizer.count, max_chunk_tokens=400)
    from_file = priced(parsed.chunks, tokenizer, text, tree)
    alone = priced(parsed.chunks, tokenizer)
    assert [c.level_tokens for c in from_file] == [c.level_tokens for c in alone]
    assert any(c.level_tokens is not None and c.level_tokens.counts[2] < c.level_tokens.counts[0] for c in from_file)
