"""The degradation ladder: render a chunk at full, light, skeleton, signature or reference level.

- full: the exact source.
- light: comments and blank lines removed (comment nodes from tree-sitter, so a `#` inside
  a string stays); docstrings stay.
- skeleton: function and method bodies elided to one marker line; signatures, decorators,
  class-level statements, the docstring's first line and the body's return/raise/throw/yield
  lines kept; comments and blank lines removed.
- signature: the declaration line(s) only.
- reference: no code at all; the assembler prints a `path:start-end` pointer.

Languages without a grammar fall back to line rules (prose keeps headings and each
paragraph's first line; code keeps its least-indented lines). Every level's text is never
longer than the level above it.

The light, skeleton and signature texts of a chunk come from one parse and are memoised
together, process-wide, by the chunk's text (bounded by their approximate size in bytes).
`price_levels` renders and counts every level's text once, at index time, and keeps the
texts with the counts (`LevelTokens.texts`, the index's `level_texts` column), so that a pack
chooses levels by arithmetic and shows the texts that were priced without parsing again.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate

import tree_sitter

from prism.ingest.languages import LANGUAGES, get_parser
from prism.models import Chunk, Level, LevelTokens
from prism.pack import level_texts
from prism.pack.memo import Memo
from prism.pack.tokens import Tokenizer

PROSE_LANGUAGES = frozenset({"markdown", "rst", "text"})
HASH_COMMENT_LANGUAGES = frozenset({"python", "ruby", "bash", "toml", "yaml", "ini"})
_BODY_TYPES = frozenset({"block", "statement_block", "compound_statement", "function_body",
                         "body_statement", "declaration_list", "constructor_body"})
_FUNCTION_TYPE = re.compile(r"^(?:\w+_)?(function|method|constructor|func|fn|lambda|closure)(?:_\w+)?$|"
                            r"^(function|method|singleton_method|function_item|func_literal)$")
_NOT_FUNCTION = ("call", "invocation", "declarator", "type", "parameters", "body", "signature",
                 "reference", "identifier", "modifier", "argument")
_KEY_STATEMENT = ("return", "raise", "throw", "yield")
MAX_KEY_STATEMENTS = 3


@dataclass(frozen=True)
class _Analysis:
    """Per-line facts about one chunk's text, from one parse."""

    lines: tuple[str, ...]  # the chunk's lines with comments cut out (None-free)
    blank: tuple[bool, ...]  # line is blank after comment removal
    elided: tuple[bool, ...]  # line lies inside an elidable function body
    docline: tuple[bool, ...]  # a docstring's first line or a key statement (kept in skeleton)
    closing: tuple[str, ...]  # text to append to a kept line (closing quotes of a docstring)


def _body_of(node: tree_sitter.Node) -> tree_sitter.Node | None:
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    for child in node.children:
        if child.type in _BODY_TYPES:
            return child
    return None


@cache
def _query(language: tree_sitter.Language) -> tree_sitter.Query | None:
    """One query capturing every comment node (@comment) and function-like node (@function).

    Run in C, it replaces a Python walk over every node of the tree (the slowest part of
    degrading a chunk); the node types are the grammar's own, picked by the same rules.
    """
    names = {name for i in range(language.node_kind_count)
             if language.node_kind_is_named(i) and language.node_kind_is_visible(i)
             and (name := language.node_kind_for_id(i)) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name)}
    comment = sorted(n for n in names if "comment" in n)
    function = sorted(n for n in names if not any(w in n for w in _NOT_FUNCTION) and _FUNCTION_TYPE.match(n))
    patterns = [f"[{' '.join(f'({k})' for k in kinds)}] @{capture}"
                for capture, kinds in (("comment", comment), ("function", function)) if kinds]
    return tree_sitter.Query(language, "\n".join(patterns)) if patterns else None


_Captured = tuple[list[tuple[int, int]], list[tree_sitter.Node]]
_Function = tuple[int, int, int, tree_sitter.Node, tree_sitter.Node | None]  # start, end, kind, node, body


@dataclass(frozen=True)
class _Found:
    """The comment and function-like nodes of one whole tree, from one run of `_query`, each
    list in order of start byte (`*_starts`: those bytes, to find a chunk's by bisection)."""

    comments: list[tuple[int, int]]  # byte spans
    comment_starts: list[int]
    functions: list[_Function]
    function_starts: list[int]

    @classmethod
    def of(cls, language: tree_sitter.Language, root: tree_sitter.Node) -> _Found:
        query = _query(language)
        captured = tree_sitter.QueryCursor(query).captures(root) if query is not None else {}
        comments = sorted((n.start_byte, n.end_byte) for n in captured.get("comment", []))
        nodes = sorted(captured.get("function", []), key=lambda n: n.start_byte)  # stable: tree order kept
        functions = [(n.start_byte, n.end_byte, n.kind_id, n, _body_of(n)) for n in nodes]
        return cls(comments, [s for s, _ in comments], functions, [f[0] for f in functions])


def _captures(found: _Found, root: tree_sitter.Node, bounds: tuple[int, int] | None = None) -> _Captured | None:
    """(sorted comment byte spans, bodies of the outermost functions that have one).

    A function nested in another function's body is inside an elided body already, so
    only functions with no function-with-body ancestor are returned. With `bounds` (a byte
    range of a file's tree: one chunk) only nodes inside it count, as if it were parsed
    alone; None when a function starts inside and ends beyond it (the range parsed alone
    would read a cut-off function its own way). The nodes considered are those a query
    limited to the range (`QueryCursor.set_byte_range`) returns: the ones that overlap it.
    """
    if bounds is None:
        low, high = 0, root.end_byte
        comments = [(s, e) for s, e in found.comments if low <= s and e <= high]
        functions = [f for f in found.functions if low <= f[0] and f[1] <= high]
    else:
        low, high = bounds
        first, last = bisect_left(found.comment_starts, low), bisect_left(found.comment_starts, high)
        comments = [(s, e) for s, e in found.comments[first:last] if low < e <= high]
        first, last = bisect_left(found.function_starts, low), bisect_left(found.function_starts, high)
        overlapping = found.functions[first:last]
        if any(f[1] > high for f in overlapping):
            return None
        functions = [f for f in overlapping if low < f[1]]

    def inside(node: tree_sitter.Node) -> bool:
        return low <= node.start_byte and node.end_byte <= high

    with_body = {(start, end, kind): body for start, end, kind, _, body in functions if body is not None}
    bodies: list[tree_sitter.Node] = []
    for start, end, kind, node, _ in functions:
        key = (start, end, kind)
        if key not in with_body:
            continue
        parent = node.parent
        while parent is not None and inside(parent):
            if (parent.start_byte, parent.end_byte, parent.kind_id) in with_body:
                break
            parent = parent.parent
        if parent is None or not inside(parent):
            bodies.append(with_body[key])
    return comments, bodies


@dataclass(frozen=True)
class FileTree:
    """A file's one parse (of its text as UTF-8, errors replaced) and the byte where each of its
    lines starts (one more: the end), so that pricing analyses a chunk of it without parsing
    the chunk's text again, nor querying it again: the query's nodes are found once per file
    (`found`) and each chunk takes those in its byte range."""

    root: tree_sitter.Node
    row_starts: tuple[int, ...]
    _found: dict[tree_sitter.Language, _Found] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, tree: tree_sitter.Tree, text: str) -> FileTree:
        lengths = (len(line.encode("utf-8", errors="replace")) + 1 for line in text.split("\n"))
        return cls(tree.root_node, tuple(accumulate(lengths, initial=0)))

    def found(self, language: tree_sitter.Language) -> _Found:
        """The query's nodes over the whole tree, found on first use (a file of no priced chunk
        of a FILE_TREE_LANGUAGES language never runs it)."""
        found = self._found.get(language)
        if found is None:
            found = self._found[language] = _Found.of(language, self.root)
        return found


# Languages whose every chunk, dedented and parsed alone, has the tree its span has in the
# file's parse (indentation is the only context a Python unit has): priced from the file's
# parse, the levels are those `render` gives. Elsewhere a method parsed alone may read as
# a call and a block (JavaScript, Java), so the chunk's own parse is kept.
FILE_TREE_LANGUAGES = frozenset({"python"})


def _strip_spans(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    if not spans:
        return data
    parts: list[bytes] = []
    pos = 0
    for start, end in spans:
        if start < pos:
            continue
        parts.append(data[pos:start])
        pos = end
    parts.append(data[pos:])
    return b"".join(parts)


def _body_rows(body: tree_sitter.Node) -> tuple[int, int]:
    """Rows of the body to elide: inside the braces (or all of an indented block)."""
    text = body.text or b""
    first = body.start_point.row + (1 if text.lstrip().startswith((b"{", b"=", b"do")) else 0)
    last = body.end_point.row - (1 if text.rstrip().endswith((b"}", b"end")) else 0)
    return first, last


def _keep_rows(body: tree_sitter.Node, language: str) -> dict[int, str]:
    """Rows inside a body that the skeleton keeps, with any closing text to append."""
    keep: dict[int, str] = {}
    statements = [c for c in body.named_children if "comment" not in c.type]
    if len(statements) == 1 and statements[0].type == "statement_list":  # Go
        statements = [c for c in statements[0].named_children if "comment" not in c.type]
    if language == "python" and statements and statements[0].type == "expression_statement":
        first = statements[0].named_children[0] if statements[0].named_children else None
        if first is not None and first.type == "string":
            text = (first.text or b"").decode("utf-8", "replace")
            quote = next((q for q in ('"""', "'''") if q in text[:6]), "")
            keep[first.start_point.row] = quote if first.end_point.row > first.start_point.row else ""
    key = [s for s in statements if any(word in s.type for word in _KEY_STATEMENT)]
    for stmt in key[-MAX_KEY_STATEMENTS:]:
        keep.setdefault(stmt.start_point.row, "")
    return keep


def _dedent(text: str) -> tuple[str, str]:
    """(common leading whitespace, text without it); parsers want top-level code."""
    lines = text.split("\n")
    first = next((line for line in lines if line.strip()), "")
    if not first[:1].isspace():
        return "", text  # a line starts at column 0 (most chunks)
    indents = [line[: len(line) - len(line.lstrip())] for line in lines if line.strip()]
    prefix = os.path.commonprefix(indents)  # noqa: RUF071 (characters are what is compared here)
    if not prefix:
        return "", text
    return prefix, "\n".join(line[len(prefix):] if line.startswith(prefix) else line.lstrip()
                             for line in lines)


def _analyse(content: str, language: str, tree: FileTree | None = None,
             first_row: int = 0) -> tuple[str, _Analysis]:
    """Per-line facts of `content`, from its own parse, or from `tree` when it is the file's
    parse and the content is its lines from `first_row` on."""
    prefix, text = _dedent(content)
    data = text.encode("utf-8")
    raw_lines = text.split("\n")
    count = len(raw_lines)
    elided = [False] * count
    docline = [False] * count
    closing = [""] * count
    if language in LANGUAGES and language not in PROSE_LANGUAGES:
        parser = get_parser(language)
        assert parser.language is not None  # get_parser sets it
        captured = _captures_in(parser.language, tree, first_row, prefix, text) if tree is not None else None
        if captured is None:
            tree = None  # rows below are the chunk's own
            root = parser.parse(data).root_node
            captured = _captures(_Found.of(parser.language, root), root)
        assert captured is not None  # without bounds there is always an answer
        comments, functions = captured
        # Cut comments line by line so that rows keep their numbers (a block comment may
        # span several lines; those lines become blank).
        lines = _cut_comments_per_line(data, comments, raw_lines)
        shift = first_row if tree is not None else 0  # the file's rows, not the chunk's
        for body in functions:
            first, last = (row - shift for row in _body_rows(body))
            if last >= first:
                for row in range(max(first, 0), min(last, count - 1) + 1):
                    elided[row] = True
                for file_row, close in _keep_rows(body, language).items():
                    row = file_row - shift
                    if 0 <= row < count:
                        docline[row] = True
                        closing[row] = close
    else:
        lines = list(raw_lines)
        if language in HASH_COMMENT_LANGUAGES:
            lines = ["" if line.lstrip().startswith("#") else line for line in lines]
    blank = [not line.strip() for line in lines]
    return prefix, _Analysis(tuple(lines), tuple(blank), tuple(elided), tuple(docline), tuple(closing))


def _captures_in(language: tree_sitter.Language, tree: FileTree, first_row: int, prefix: str,
                 text: str) -> _Captured | None:
    """`_captures` of the chunk whose dedented text is `text`, from the file's tree: comment
    spans as offsets into `text`'s bytes (each line lost `prefix`), bodies as the file's nodes;
    None where the chunk must be parsed alone."""
    rows = text.count("\n") + 1
    starts = tree.row_starts
    bounds = starts[first_row], starts[first_row + rows] - 1
    captured = _captures(tree.found(language), tree.root, bounds)
    if captured is None:
        return None
    comments, bodies = captured
    if not comments:  # nothing to translate (most chunks of code without comments)
        return comments, bodies
    local = list(accumulate((len(line.encode("utf-8")) + 1 for line in text.split("\n")), initial=0))
    cut = len(prefix.encode("utf-8"))

    def offset(byte: int) -> int:
        row = bisect_right(starts, byte) - 1
        return local[row - first_row] + max(byte - starts[row] - cut, 0)

    return [(offset(s), offset(e)) for s, e in comments], bodies


def _cut_comments_per_line(data: bytes, spans: list[tuple[int, int]], lines: list[str]) -> list[str]:
    """`lines` (the lines `data` encodes) with every comment byte removed; rows keep their numbers."""
    out = list(lines)
    if not spans:
        return out
    raw = data.split(b"\n")
    starts = list(accumulate((len(line) + 1 for line in raw), initial=0))  # byte offset of each row
    cuts: dict[int, list[tuple[int, int]]] = {}
    for s, e in spans:  # sorted, so each row's cuts are in order
        row = max(bisect_right(starts, s) - 1, 0)
        while row < len(raw) and starts[row] < e:
            start, end = starts[row], starts[row] + len(raw[row])
            if s < end and e > start:
                cuts.setdefault(row, []).append((max(s, start) - start, min(e, end) - start))
            row += 1
    for row, cut in cuts.items():
        out[row] = _strip_spans(raw[row], cut).decode("utf-8", "replace").rstrip()
    return out


def _marker(language: str, indent: str) -> str:
    if language == "python":
        return f"{indent}..."
    if language in HASH_COMMENT_LANGUAGES:
        return f"{indent}# ..."
    return f"{indent}// ..."


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _light(prefix: str, info: _Analysis) -> str:
    kept = [prefix + line.rstrip() for line, blank in zip(info.lines, info.blank, strict=True) if not blank]
    return "\n".join(kept)


def render_light(chunk: Chunk) -> str:
    """The chunk without comments and blank lines."""
    return _light(*_analyse(chunk.content, chunk.language))


def _prose_skeleton(chunk: Chunk) -> str:
    lines = chunk.content.split("\n")
    kept: list[str] = []
    previous_blank = True
    for index, line in enumerate(lines):
        stripped = line.strip()
        underline = index + 1 < len(lines) and bool(re.fullmatch(r"([=\-~^*#])\1{2,}", lines[index + 1].strip()))
        if stripped.startswith("#") or underline or (stripped and previous_blank):
            kept.append(line.rstrip())
        previous_blank = not stripped
    return "\n".join(kept)


def render_skeleton(chunk: Chunk) -> str:
    """Bodies elided to one marker line; signatures, docstring first lines and key statements kept."""
    if chunk.language in PROSE_LANGUAGES:
        return _prose_skeleton(chunk)
    return _skeleton(chunk, *_analyse(chunk.content, chunk.language))


def _skeleton(chunk: Chunk, prefix: str, info: _Analysis) -> str:
    if chunk.language in PROSE_LANGUAGES:
        return _prose_skeleton(chunk)
    if chunk.language not in LANGUAGES:
        return _indent_skeleton(_light(prefix, info))
    out: list[str] = []
    in_run = False
    for row, line in enumerate(info.lines):
        if info.elided[row] and not info.docline[row]:
            if not in_run and not info.blank[row]:
                out.append(prefix + _marker(chunk.language, _indent_of(line)))
                in_run = True
            continue
        if info.blank[row]:
            continue
        in_run = False
        out.append(prefix + line.rstrip() + info.closing[row])
    return "\n".join(out)


def _indent_skeleton(light: str) -> str:
    lines = [line.rstrip() for line in light.split("\n") if line.strip()]
    if not lines:
        return ""
    indents = [len(line) - len(line.lstrip()) for line in lines]
    least = min(indents)
    marker = " " * (least + 4) + "..."
    out: list[str] = []
    dots = False  # the last line out reads "..." (a marker, or code that says so)
    for line, indent in zip(lines, indents, strict=True):
        if indent <= least:
            out.append(line)
            dots = line.strip() == "..."
        elif not dots:
            out.append(marker)
            dots = True
    return "\n".join(out)


def render_signature(chunk: Chunk) -> str:
    """The declaration line(s), or the first non-blank line when the chunk has none."""
    if chunk.signature.strip():
        first = chunk.content.split("\n", 1)[0]
        indent = _indent_of(first) if chunk.signature.lstrip() == chunk.signature else ""
        return "\n".join(indent + line.rstrip() if i == 0 else line.rstrip()
                         for i, line in enumerate(chunk.signature.strip("\n").split("\n")))
    for line in chunk.content.split("\n"):
        if line.strip():
            return line.rstrip()
    return ""


def render(chunk: Chunk, level: Level) -> str:
    """The chunk's code at a level ("" for reference). Lower levels are never longer."""
    if level == "full":
        return chunk.content.rstrip("\n")
    if level == "reference":
        return ""
    light, skeleton, signature = render_levels(chunk)
    return light if level == "light" else skeleton if level == "skeleton" else signature


def _weigh(key: tuple[str, str, str], texts: tuple[str, str, str]) -> int:
    return sum(map(len, key)) + sum(map(len, texts)) + 400  # characters, and the objects around them


RENDERS_LIMIT = 48 * 2**20  # characters: some 15,000 chunks of the mean size (1.2 kB), about 30 MB held
_RENDERS: Memo[tuple[str, str, str], tuple[str, str, str]] = Memo(RENDERS_LIMIT, _weigh)


def render_levels(chunk: Chunk) -> tuple[str, str, str]:
    """(light, skeleton, signature) of a chunk: the texts priced at index time where the chunk
    holds them, else from one parse; memoised by its text (a pack asks again for each block)."""
    key = (chunk.content, chunk.language, chunk.signature)
    found = _RENDERS.get(key)
    if found is None:
        found = stored_levels(chunk) or _render_levels(chunk)
        _RENDERS.put(key, found)
    return found


def _render_levels(chunk: Chunk, tree: FileTree | None = None) -> tuple[str, str, str]:
    full = chunk.content.rstrip("\n")
    prefix, info = _analyse(chunk.content, chunk.language, tree, chunk.start_line - 1)
    light = _light(prefix, info)
    if len(light) > len(full):
        light = full
    skeleton = _skeleton(chunk, prefix, info)
    if len(skeleton) > len(light):
        skeleton = light
    signature = render_signature(chunk)
    if len(signature) > len(skeleton):
        signature = skeleton.split("\n", 1)[0]
    return light, skeleton, signature


def stored_levels(chunk: Chunk) -> tuple[str, str, str] | None:
    """The (light, skeleton, signature) texts priced at index time, None where the chunk has none
    (or an unreadable value: the pack renders such a chunk from its text)."""
    levels = chunk.level_tokens
    if levels is None or levels.texts is None:
        return None
    return level_texts.decode(chunk.content.rstrip("\n"), levels.texts)


def price_levels(chunk: Chunk, tokenizer: Tokenizer, *, tokens_counted: bool = False,
                 tree: FileTree | None = None, count: Callable[[str], int] | None = None) -> LevelTokens:
    """Tokens of the chunk's text at each priced level (full, light, skeleton, signature).

    Not memoised (the indexer sees each chunk once). A level whose text equals the level
    above it is not counted again, nor the full text when `tokens_counted` says that
    `chunk.tokens` is this tokenizer's count of the content. `tree`: the parse of the file
    whose lines the chunk's content is (whole lines), used instead of a parse of the chunk's
    own text where that gives the same levels (FILE_TREE_LANGUAGES). `count`: `tokenizer.count`
    or one that gives the same numbers (a memo: `line_tokens.LineCounter`). The texts counted
    are kept with the counts (`level_texts.encode`), for the pack to show.
    """
    count = count or tokenizer.count
    full = chunk.content.rstrip("\n")
    light, skeleton, signature = _render_levels(chunk, tree if chunk.language in FILE_TREE_LANGUAGES else None)
    counts = [chunk.tokens if tokens_counted and full == chunk.content else count(full)]
    previous = full
    for text in (light, skeleton, signature):
        counts.append(counts[-1] if text == previous else count(text))
        previous = text
    return LevelTokens(tokenizer.name, tuple(counts), level_texts.encode(full, (light, skeleton, signature)))
