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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import tree_sitter

from prism.ingest.languages import LANGUAGES, get_parser
from prism.models import Chunk, Level

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
def _queries(language: tree_sitter.Language) -> tuple[tree_sitter.Query | None, tree_sitter.Query | None]:
    """Queries capturing every comment node and every function-like node of a grammar.

    Run in C, they replace a Python walk over every node of the tree (the slowest part of
    degrading a chunk); the node types are the grammar's own, picked by the same rules.
    """
    names = {name for i in range(language.node_kind_count)
             if language.node_kind_is_named(i) and language.node_kind_is_visible(i)
             and (name := language.node_kind_for_id(i)) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name)}
    comment = sorted(n for n in names if "comment" in n)
    function = sorted(n for n in names if not any(w in n for w in _NOT_FUNCTION) and _FUNCTION_TYPE.match(n))

    def build(kinds: list[str]) -> tree_sitter.Query | None:
        if not kinds:
            return None
        return tree_sitter.Query(language, "[" + " ".join(f"({k})" for k in kinds) + "] @node")

    return build(comment), build(function)


def _captured(query: tree_sitter.Query | None, root: tree_sitter.Node) -> list[tree_sitter.Node]:
    if query is None:
        return []
    return tree_sitter.QueryCursor(query).captures(root).get("node", [])


def _captures(language: tree_sitter.Language,
              root: tree_sitter.Node) -> tuple[list[tuple[int, int]], list[tree_sitter.Node]]:
    """(sorted comment byte spans, bodies of the outermost functions that have one).

    A function nested in another function's body is inside an elided body already, so
    only functions with no function-with-body ancestor are returned.
    """
    comment_query, function_query = _queries(language)
    comments = sorted((n.start_byte, n.end_byte) for n in _captured(comment_query, root))
    with_body: dict[tuple[int, int, int], tree_sitter.Node] = {}
    for node in _captured(function_query, root):
        body = _body_of(node)
        if body is not None:
            with_body[(node.start_byte, node.end_byte, node.kind_id)] = body
    bodies: list[tree_sitter.Node] = []
    for node in _captured(function_query, root):
        key = (node.start_byte, node.end_byte, node.kind_id)
        if key not in with_body:
            continue
        parent = node.parent
        while parent is not None:
            if (parent.start_byte, parent.end_byte, parent.kind_id) in with_body:
                break
            parent = parent.parent
        if parent is None:
            bodies.append(with_body[key])
    return comments, bodies


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
    indents = [line[: len(line) - len(line.lstrip())] for line in lines if line.strip()]
    if not indents:
        return "", text
    prefix = indents[0]
    for indent in indents[1:]:
        while not indent.startswith(prefix):
            prefix = prefix[:-1]
    if not prefix:
        return "", text
    return prefix, "\n".join(line[len(prefix):] if line.startswith(prefix) else line.lstrip()
                             for line in lines)


@lru_cache(maxsize=4096)
def _analyse(content: str, language: str) -> tuple[str, _Analysis]:
    prefix, text = _dedent(content)
    data = text.encode("utf-8")
    raw_lines = text.split("\n")
    count = len(raw_lines)
    elided = [False] * count
    docline = [False] * count
    closing = [""] * count
    if language in LANGUAGES and language not in PROSE_LANGUAGES:
        parser = get_parser(language)
        root = parser.parse(data).root_node
        assert parser.language is not None  # get_parser sets it
        comments, functions = _captures(parser.language, root)
        # Cut comments line by line so that rows keep their numbers (a block comment may
        # span several lines; those lines become blank).
        lines = _cut_comments_per_line(data, comments, count)
        for body in functions:
            first, last = _body_rows(body)
            if last >= first:
                for row in range(max(first, 0), min(last, count - 1) + 1):
                    elided[row] = True
                for row, close in _keep_rows(body, language).items():
                    if 0 <= row < count:
                        docline[row] = True
                        closing[row] = close
    else:
        lines = list(raw_lines)
        if language in HASH_COMMENT_LANGUAGES:
            lines = ["" if line.lstrip().startswith("#") else line for line in lines]
    blank = [not line.strip() for line in lines]
    return prefix, _Analysis(tuple(lines), tuple(blank), tuple(elided), tuple(docline), tuple(closing))


def _cut_comments_per_line(data: bytes, spans: list[tuple[int, int]], count: int) -> list[str]:
    """The text's lines with every comment byte removed (lines themselves are kept)."""
    out: list[str] = []
    offset = 0
    raw = data.split(b"\n")
    for line in raw[:count]:
        start, end = offset, offset + len(line)
        cut = [(max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start]
        text = _strip_spans(line, cut) if cut else line
        decoded = text.decode("utf-8", "replace")
        out.append(decoded.rstrip() if cut else decoded)
        offset = end + 1
    while len(out) < count:
        out.append("")
    return out


def _marker(language: str, indent: str) -> str:
    if language == "python":
        return f"{indent}..."
    if language in HASH_COMMENT_LANGUAGES:
        return f"{indent}# ..."
    return f"{indent}// ..."


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def render_light(chunk: Chunk) -> str:
    """The chunk without comments and blank lines."""
    prefix, info = _analyse(chunk.content, chunk.language)
    kept = [prefix + line.rstrip() for line, blank in zip(info.lines, info.blank, strict=True) if not blank]
    return "\n".join(kept)


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
    prefix, info = _analyse(chunk.content, chunk.language)
    if chunk.language not in LANGUAGES:
        return _indent_skeleton(chunk)
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


def _indent_skeleton(chunk: Chunk) -> str:
    lines = [line.rstrip() for line in render_light(chunk).split("\n") if line.strip()]
    if not lines:
        return ""
    least = min(len(line) - len(line.lstrip()) for line in lines)
    out: list[str] = []
    for line in lines:
        if len(line) - len(line.lstrip()) <= least:
            out.append(line)
        elif not out or out[-1].strip() != "...":
            out.append(" " * (least + 4) + "...")
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
    full = chunk.content.rstrip("\n")
    light = render_light(chunk)
    if len(light) > len(full):
        light = full
    if level == "light":
        return light
    skeleton = render_skeleton(chunk)
    if len(skeleton) > len(light):
        skeleton = light
    if level == "skeleton":
        return skeleton
    signature = render_signature(chunk)
    return signature if len(signature) <= len(skeleton) else skeleton.split("\n", 1)[0]
