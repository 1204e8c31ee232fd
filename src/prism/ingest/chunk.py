"""Split one source file into chunks: code units via tree-sitter, doc sections, or line windows.

``chunk_file`` picks the strategy from the language: a grammar in LANGUAGES → units (units.py),
Markdown and reStructuredText → sections (sections.py), anything else → line windows. A file that
does not parse (an exception, or syntax errors covering most of it) falls back to windows with a
warning. Chunks over ``max_chunk_tokens`` are cut at statement boundaries into consecutive parts
that share kind and qualified name (span.py); a line that alone exceeds the limit is cut into
slices of itself. Every non-blank line ends up in at least one chunk, and no chunk exceeds
``max_chunk_tokens``.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import replace

import tree_sitter

from prism.ingest.languages import LANGUAGES, get_parser
from prism.ingest.sections import markdown_headings, rst_headings, section_spans
from prism.ingest.span import Span, split_line, split_span, window_spans
from prism.ingest.units import Outline, error_fraction, outline
from prism.models import Chunk, ParsedFile

MAX_CALLS = 200
# Bump when a change to ingest gives different chunks for the same file: indexes built by
# another version are re-chunked on their next sync (vectors are reused by text hash).
CHUNKER_VERSION = "5"  # 5: C/C++ names drop macro and return-type words; Java bodiless methods are units
MAX_PARSED_LINE_CHARS = 20_000  # a file with a longer line is not parsed into units
MAX_ERROR_FRACTION = 0.5  # above this share of bytes in ERROR nodes, a parse is not trusted


def chunk_file(
    path: str,
    text: str,
    language: str | None,
    *,
    count_tokens: Callable[[str], int],
    max_chunk_tokens: int = 1500,
    window_lines: int = 60,
    window_overlap: int = 10,
) -> ParsedFile:
    """Chunk ``text`` (the decoded contents of ``path``) for the index."""
    return chunk_file_with_tree(path, text, language, count_tokens=count_tokens, max_chunk_tokens=max_chunk_tokens,
                                window_lines=window_lines, window_overlap=window_overlap)[0]


def chunk_file_with_tree(
    path: str,
    text: str,
    language: str | None,
    *,
    count_tokens: Callable[[str], int],
    max_chunk_tokens: int = 1500,
    window_lines: int = 60,
    window_overlap: int = 10,
) -> tuple[ParsedFile, tree_sitter.Tree | None]:
    """`chunk_file`, and the file's tree-sitter parse of ``text.encode("utf-8", "replace")``
    that its units came from (None when it was chunked without one), for pricing to reuse."""
    lang = language or "text"
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # the empty string after the final newline is not a line
    warnings: list[str] = []
    facts = Outline(spans=[])
    tree: tree_sitter.Tree | None = None
    if not text.strip():
        spans: list[Span] = []
    elif language == "rst":
        spans = section_spans(lines, rst_headings(lines), path)
    elif language in LANGUAGES and (longest := max(map(len, lines))) > MAX_PARSED_LINE_CHARS:
        # minified or generated: units of one line would all be that line; windows are as good
        warnings.append(f"{path}: a line of {longest:,} characters (minified or generated?); "
                        "indexed as line windows.")
        spans = window_spans(lines, path, window_lines, window_overlap)
    elif language in LANGUAGES:
        try:
            facts, tree = _parse(path, text, lines, language)
            spans = facts.spans
        except _ParseFailure as failure:
            warnings.append(str(failure))
            spans = window_spans(lines, path, window_lines, window_overlap)
    else:
        spans = window_spans(lines, path, window_lines, window_overlap)

    final: list[Span] = []
    cut_rows: set[int] = set()  # rows already cut into slices (units and windows can share a row)
    counted: dict[tuple[int, int], int] = {}  # tokens of whole-row spans that fit, for _build

    def over(row: int) -> bool:  # a token is at least one character: short lines always fit
        return len(lines[row]) > max_chunk_tokens and count_tokens(lines[row]) > max_chunk_tokens

    for span in spans:
        if span.end >= len(lines):  # defensive: tree-sitter rows past the last line
            span = replace(span, end=len(lines) - 1)
        if span.start == span.end and (span.start in cut_rows or over(span.start)):
            parts = [span]  # one line over the limit: sliced below, once
        elif (tokens := count_tokens("\n".join(lines[span.start : span.end + 1]))) <= max_chunk_tokens:
            counted[span.start, span.end] = tokens
            final.append(span)
            continue
        else:
            parts = split_span(span, lines, count_tokens, max_chunk_tokens)
        for part in parts:
            if part.start != part.end or (part is not span and not over(part.start)):
                final.append(part)
            elif part.start not in cut_rows:
                cut_rows.add(part.start)
                final.extend(split_line(part, lines[part.start], count_tokens, max_chunk_tokens))
    chunks = tuple(_build(path, lang, span, lines, facts, count_tokens, counted) for span in final)
    return ParsedFile(path=path, language=lang, chunks=chunks, warnings=tuple(warnings)), tree


class _ParseFailure(Exception):
    pass


def _parse(path: str, text: str, lines: Sequence[str], language: str) -> tuple[Outline, tree_sitter.Tree]:
    source = text.encode("utf-8", errors="replace")
    try:
        tree = get_parser(language).parse(source)
        root = tree.root_node
        fraction = error_fraction(root, language, len(source))
        if fraction > MAX_ERROR_FRACTION:
            raise _ParseFailure(
                f"{path}: {fraction:.0%} of the file does not parse as {language}; indexed as line windows."
            )
        if language == "markdown":
            return Outline(spans=section_spans(lines, markdown_headings(root), path)), tree
        return outline(root, source, lines, language, path), tree
    except _ParseFailure:
        raise
    except Exception as exc:  # a grammar or query bug must not stop indexing
        raise _ParseFailure(
            f"{path}: parsing as {language} failed ({type(exc).__name__}: {exc}); indexed as line windows."
        ) from exc


def _in_rows(items: list[tuple[int, str]], start: int, end: int) -> list[str]:
    low = bisect_left(items, (start, ""))
    high = bisect_right(items, (end, "\U0010ffff"))
    return [value for _, value in items[low:high]]


def _unique(values: list[str], limit: int | None = None) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(v for v in values if v))
    return unique[:limit] if limit is not None else unique


def _build(
    path: str,
    language: str,
    span: Span,
    lines: Sequence[str],
    facts: Outline,
    count_tokens: Callable[[str], int],
    counted: dict[tuple[int, int], int],
) -> Chunk:
    content = "\n".join(lines[span.start : span.end + 1])
    tokens = counted.get((span.start, span.end))
    if span.columns is not None:
        content = lines[span.start][span.columns[0] : span.columns[1]]
        tokens = None
    defines = span.defines
    if span.kind == "module":
        defines = _unique(_in_rows(facts.defines, span.start, span.end))
    return Chunk(
        path=path,
        language=language,
        kind=span.kind,
        name=span.name,
        qualified_name=span.qualified_name or path,
        signature=span.signature,
        docstring=span.docstring,
        start_line=span.start + 1,
        end_line=span.end + 1,
        content=content,
        content_hash=hashlib.sha256(content.encode("utf-8", errors="replace")).hexdigest(),
        tokens=count_tokens(content) if tokens is None else tokens,
        defines=defines,
        imports=_unique(_in_rows(facts.imports, span.start, span.end)),
        calls=_unique(_in_rows(facts.calls, span.start, span.end), MAX_CALLS),
        parent=span.parent,
    )
