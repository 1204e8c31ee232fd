"""Find the named units of a parsed source file (classes, functions, methods) and their line spans.

The per-language knowledge lives in tree-sitter queries kept as data (``queries/<lang>.scm``),
with these captures:

* ``@definition.class`` / ``@definition.function`` and ``@name`` (optionally ``@parent``, e.g. a
  Go receiver type): a unit; a function directly inside a class is a method ``Class.method``;
  anything defined inside a function stays part of that function;
* ``@call``: the name of a called function (last component of ``a.b.c()``);
* ``@import.module`` / ``@import.name``: what a statement imports;
* ``@define``: a name assigned at module level.

Layout rule: a class becomes a header chunk (decorators, doc comment, signature, docstring and
fields up to its first method) and every method its own chunk, so no line is in two chunks.
Lines no unit covers are gathered into runs: inside a class they become more chunks of that class
(fields after the methods); at top level they become ``module`` chunks (imports, constants,
top-level statements), so a file can have several module chunks. Runs of closing punctuation
only (``}``, ``end``) are attached to the chunk before them.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

import tree_sitter

from prism.ingest.languages import get_language
from prism.ingest.span import Span, is_blank, trim
from prism.models import ChunkKind

WRAPPERS = frozenset({"decorated_definition", "export_statement", "template_declaration"})
LEADING = frozenset(
    {
        "comment", "line_comment", "block_comment", "doc_comment", "decorator", "attribute_item",
        "attribute", "annotation", "marker_annotation",
    }
)  # fmt: skip
COMMENTS = frozenset({"comment", "line_comment", "block_comment", "doc_comment"})
BODY_TYPES = frozenset(
    {
        "block", "class_body", "function_body", "compound_statement", "declaration_list",
        "field_declaration_list", "body_statement", "statement_block", "template_body",
        "enum_body", "interface_body", "enum_class_body", "protocol_body", "enum_variant_list",
        "enum_member_declaration_list", "enumerator_list", "statement_list", "statements",
    }
)  # fmt: skip
CLOSING = re.compile(r"\s*(?:end\b|[)\]}>]+)?[\s;,)\]}]*")
_COMMENT_MARKERS = re.compile(r"^\s*(?:/\*+|\*+/|\*(?!/)|///?!?|//|#+!?|--)\s?")
_XML_DOC_TAGS = re.compile(r"</?(?:summary|remarks|returns|para)>")
_WHITESPACE = re.compile(r"\s+")


@dataclass
class Outline:
    """What one pass of the language query found in a file."""

    spans: list[Span]
    calls: list[tuple[int, str]] = field(default_factory=list)  # (row, callee)
    imports: list[tuple[int, str]] = field(default_factory=list)  # (row, module or name)
    defines: list[tuple[int, str]] = field(default_factory=list)  # (row, module-level name)


@dataclass
class _Def:
    node: tree_sitter.Node
    outer: tree_sitter.Node
    top: int  # first row, including decorators and the leading doc comment
    end: int
    is_class: bool
    name: str
    explicit_parent: str
    doc_nodes: list[tuple[int, str]]  # (row, text) of leading comments
    chunked: bool = True
    qualified: str = ""
    parent: str = ""
    members: list[_Def] = field(default_factory=list)


@cache
def get_query(language: str) -> tree_sitter.Query:
    """The compiled unit query for a language (queries/<language>.scm)."""
    return tree_sitter.Query(get_language(language), query_source(language))


def query_source(name: str) -> str:
    """A query file's text, with the files named on a leading `; inherits: a, b` line prepended
    (TypeScript extends JavaScript's patterns, TSX TypeScript's), as nvim-treesitter does."""
    source = resources.files("prism.ingest").joinpath("queries", f"{name}.scm").read_text()
    first, _, rest = source.partition("\n")
    if not first.startswith("; inherits:"):
        return source
    parents = [p.strip() for p in first.removeprefix("; inherits:").split(",") if p.strip()]
    return "\n".join([*(query_source(p) for p in parents), rest])


def end_row(node: tree_sitter.Node) -> int:
    """Last row holding text of the node (a node ending at column 0 ends on the row before)."""
    row, column = node.end_point
    return row - 1 if column == 0 and row > node.start_point[0] else row


def error_fraction(root: tree_sitter.Node, language: str, size: int) -> float:
    """Share of the file's bytes inside ERROR nodes (outermost ones only)."""
    if not root.has_error or size == 0:
        return 0.0
    query = _error_query(language)
    covered = 0
    reach = -1
    nodes = tree_sitter.QueryCursor(query).captures(root).get("error", [])
    for node in sorted(nodes, key=lambda n: n.start_byte):
        start = max(node.start_byte, reach)
        if node.end_byte > start:
            covered += node.end_byte - start
            reach = node.end_byte
    return covered / size


@cache
def _error_query(language: str) -> tree_sitter.Query:
    return tree_sitter.Query(get_language(language), "(ERROR) @error")


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")


def _starts_line(node: tree_sitter.Node, lines: Sequence[str]) -> bool:
    row, column = node.start_point
    # Columns are bytes; for a mostly-ASCII prefix this is exact, and a wrong guess only
    # keeps a trailing comment out of the next unit.
    return not lines[row].encode("utf-8", errors="replace")[:column].strip()


def _body(node: tree_sitter.Node) -> tree_sitter.Node | None:
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    frontier = [node]
    for _ in range(3):
        next_frontier: list[tree_sitter.Node] = []
        for current in frontier:
            for child in current.named_children:
                if child.type in BODY_TYPES:
                    return child
                next_frontier.append(child)
        frontier = next_frontier
    return None


def statements(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The statements/members directly inside a unit's body (unwrapping single blocks)."""
    body = _body(node)
    if body is None:
        return []
    while body.named_child_count == 1 and body.named_children[0].type in BODY_TYPES:
        body = body.named_children[0]
    return body.named_children


def _signature(node: tree_sitter.Node, source: bytes) -> str:
    body = _body(node)
    stop = body.start_byte if body is not None else node.end_byte
    stop = min(stop, node.start_byte + 1200)
    text = source[node.start_byte : stop].decode("utf-8", errors="replace")
    text = _WHITESPACE.sub(" ", text).strip().rstrip("{").rstrip()
    return text[:300]


def clean_comment(texts: Sequence[str]) -> str:
    """Doc comment text without comment markers (/** */, ///, //, #, leading *)."""
    out: list[str] = []
    for text in texts:
        for line in text.splitlines():
            line = _COMMENT_MARKERS.sub("", line.rstrip())
            line = re.sub(r"\s*\*+/\s*$", "", line)
            out.append(_XML_DOC_TAGS.sub("", line).rstrip())
    return inspect.cleandoc("\n".join(out)).strip()


def python_docstring(node: tree_sitter.Node | None) -> str:
    """The docstring of a Python module/class/function node ('' if none)."""
    if node is None:
        return ""
    children = statements(node) if node.type != "module" else node.named_children
    if not children or children[0].type != "expression_statement":
        return ""
    string = children[0].named_children[0] if children[0].named_child_count else None
    if string is None or string.type != "string":
        return ""
    raw = _text(string)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw.strip("\"'rRbBuU")
    return inspect.cleandoc(value) if isinstance(value, str) else ""


def _qualify_name(raw: str) -> tuple[str, str]:
    """Split 'Vec::dot' / 'self.create' into (parent, name)."""
    for separator in ("::", "."):
        if separator in raw:
            head, _, tail = raw.rpartition(separator)
            if head in ("self", "this"):
                return "", tail
            return head.replace("::", "."), tail
    return "", raw


_TEMPLATE_ARGS = re.compile(r"<[^<>]*>$")


def declarator_name(raw: str) -> str:
    """A C/C++ declarator's qualified identifier without what tree-sitter folds into it when a
    macro precedes the declaration (`simdjson_result<double> document::get_double` →
    `document::get_double`): the last word outside template brackets, and no `<args>` on the name."""
    raw = _WHITESPACE.sub(" ", raw).strip()
    operator = re.search(r"\boperator\b", raw)
    head, tail = (raw[: operator.start()], raw[operator.start() :]) if operator else (raw, "")
    depth, cut = 0, 0
    for index, char in enumerate(head):
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(0, depth - 1)
        elif char == " " and depth == 0:
            cut = index + 1
    head = head[cut:].lstrip("*&")
    if not tail:
        while _TEMPLATE_ARGS.search(head):  # `value::get<bool>` specialises `get`
            head = _TEMPLATE_ARGS.sub("", head)
    return (head + tail).replace(":: ", "::")


def _make_def(
    node: tree_sitter.Node,
    is_class: bool,
    name_node: tree_sitter.Node | None,
    parent_node: tree_sitter.Node | None,
    lines: Sequence[str],
    language: str,
) -> _Def:
    outer = node
    while outer.parent is not None and outer.parent.type in WRAPPERS:
        outer = outer.parent
    top = outer.start_point[0]
    docs: list[tuple[int, str]] = []
    previous = outer.prev_named_sibling
    while (
        previous is not None
        and previous.type in LEADING
        and end_row(previous) >= top - 1
        and _starts_line(previous, lines)
    ):
        top = previous.start_point[0]
        if previous.type in COMMENTS:
            docs.insert(0, (top, _text(previous)))
        previous = previous.prev_named_sibling
    raw = _text(name_node).strip() if name_node is not None else node.type.split("_")[0]
    if language in ("c", "cpp") and not is_class:
        raw = declarator_name(raw)
    explicit, name = _qualify_name(raw) if not is_class else ("", raw)
    if parent_node is not None:
        explicit = _text(parent_node)
    return _Def(node, outer, top, end_row(outer), is_class, name, explicit, docs)


def outline(root: tree_sitter.Node, source: bytes, lines: Sequence[str], language: str, path: str) -> Outline:
    """Run the language query once and turn its matches into unit spans plus per-row facts."""
    result = Outline(spans=[])
    defs: list[_Def] = []
    seen: set[int] = set()
    for _pattern, captures in tree_sitter.QueryCursor(get_query(language)).matches(root):
        if "call" in captures:
            for node in captures["call"]:
                result.calls.append((node.start_point[0], _text(node)))
        elif "import.module" in captures or "import.name" in captures:
            _add_imports(result, captures, language)
        elif "define" in captures:
            for node in captures["define"]:
                result.defines.append((node.start_point[0], _text(node)))
        else:
            for kind in ("class", "function"):
                nodes = captures.get(f"definition.{kind}")
                if not nodes or nodes[0].id in seen:
                    continue
                seen.add(nodes[0].id)
                names = captures.get("name")
                parents = captures.get("parent")
                defs.append(
                    _make_def(
                        nodes[0],
                        kind == "class",
                        names[0] if names else None,
                        parents[0] if parents else None,
                        lines,
                        language,
                    )
                )
    result.calls.sort()
    result.imports.sort()
    result.defines.sort()
    chunked = _nest(defs)
    result.spans = _layout(chunked, root, source, lines, language, path)
    return result


def _add_imports(result: Outline, captures: dict[str, list[tree_sitter.Node]], language: str) -> None:
    module = ""
    for module_node in captures.get("import.module", [])[:1]:
        module = _clean_import(_text(module_node))
        if module:
            result.imports.append((module_node.start_point[0], module))
    for node in captures.get("import.name", []):
        name = _text(node)
        joined = f"{module}.{name}" if language == "python" and module else name
        result.imports.append((node.start_point[0], joined))


def _clean_import(text: str) -> str:
    text = _WHITESPACE.sub(" ", text).strip().rstrip(";").strip()
    for keyword in ("import ", "use "):
        if text.startswith(keyword):
            text = text[len(keyword) :]
    return text.strip("\"'<>` ")


def _nest(defs: list[_Def]) -> list[_Def]:
    """Decide which definitions become chunks, and qualify their names by enclosing classes."""
    defs.sort(key=lambda d: (d.outer.start_byte, -d.outer.end_byte))
    stack: list[_Def] = []
    chunked: list[_Def] = []
    for d in defs:
        while stack and not (
            stack[-1].outer.start_byte <= d.outer.start_byte and d.outer.end_byte <= stack[-1].outer.end_byte
        ):
            stack.pop()
        owner = stack[-1] if stack else None
        stack.append(d)
        if owner is None:
            prefix = d.explicit_parent
        elif owner.chunked and owner.is_class and d.top > owner.outer.start_point[0]:
            prefix = owner.qualified
            owner.members.append(d)
        else:  # inside a function, or a class kept whole: part of that chunk
            d.chunked = False
            continue
        d.parent = prefix
        d.qualified = f"{prefix}.{d.name}" if prefix else d.name
        chunked.append(d)
    return chunked


def _layout(
    defs: list[_Def],
    root: tree_sitter.Node,
    source: bytes,
    lines: Sequence[str],
    language: str,
    path: str,
) -> list[Span]:
    spans: list[Span] = []
    classes: list[tuple[_Def, Span]] = []
    for d in defs:
        kind: ChunkKind = "class" if d.is_class else "method" if d.parent else "function"
        end = d.end
        if d.members:
            end = max(d.top, d.members[0].top - 1)
            while end > d.top and is_blank(lines[end]):
                end -= 1
        if language == "python":
            docstring = python_docstring(d.node)
        else:
            docstring = clean_comment([text for _, text in d.doc_nodes])
        span = Span(
            start=d.top,
            end=end,
            kind=kind,
            name=d.name,
            qualified_name=d.qualified,
            parent=d.parent,
            signature=_signature(d.node, source),
            docstring=docstring,
            defines=(d.name,),
            boundaries=tuple(n.start_point[0] for n in statements(d.node)),
        )
        spans.append(span)
        if d.is_class:
            classes.append((d, span))
    return _fill_gaps(spans, classes, root, lines, language, path)


_HASH_COMMENT = re.compile(r"\s*#(?![!\[])")  # not a shebang or a Rust/PHP attribute
_SLASH_COMMENT = re.compile(r"\s*(//|/\*|\*)")
COMMENT_LINE = {"python": _HASH_COMMENT, "ruby": _HASH_COMMENT, "bash": _HASH_COMMENT}
COMMENT_LINE.update({lang: _SLASH_COMMENT for lang in (
    "c", "cpp", "csharp", "java", "javascript", "typescript", "tsx", "go", "rust", "kotlin", "swift",
    "scala", "php")})


def _fill_gaps(
    spans: list[Span],
    classes: list[tuple[_Def, Span]],
    root: tree_sitter.Node,
    lines: Sequence[str],
    language: str,
    path: str,
) -> list[Span]:
    """Give every uncovered non-blank line a chunk (see the module docstring)."""
    total = len(lines)
    owner = [-1] * total  # index of the last span covering each row
    for index, span in enumerate(spans):
        for row in range(span.start, min(span.end, total - 1) + 1):
            owner[row] = index
    module_rows = tuple(
        row
        for child in root.named_children
        for row in (child.start_point[0], *(n.start_point[0] for n in statements(child)))
    )
    extra: list[Span] = []
    row = 0
    while row < total:
        if owner[row] != -1:
            row += 1
            continue
        start = row
        while row < total and owner[row] == -1:
            row += 1
        bounds = trim(lines, start, row - 1)
        if bounds is None:
            continue
        first, last = bounds
        before = first - 1
        while before >= 0 and owner[before] == -1:
            before -= 1
        if before >= 0 and all(CLOSING.fullmatch(lines[r]) for r in range(first, last + 1)):
            target = spans[owner[before]]
            spans[owner[before]] = replace(target, end=max(target.end, last))
            continue
        after = row  # the first covered row after the gap, if any
        comment = COMMENT_LINE.get(language)
        if comment is not None and after < total and owner[after] != -1 and all(
                comment.match(lines[r]) or not lines[r].strip() for r in range(first, last + 1)):
            # A banner or comment right before a unit ("# -- lifecycle --") reads as part of it;
            # alone it would be a chunk of nothing but a comment.
            target = spans[owner[after]]
            spans[owner[after]] = replace(target, start=min(target.start, first))
            for r in range(first, after):
                owner[r] = owner[after]
            continue
        extra.append(_gap_span(first, last, classes, root, lines, language, path, module_rows))
    return sorted(spans + extra, key=lambda s: (s.start, s.end))


def _gap_span(
    first: int,
    last: int,
    classes: list[tuple[_Def, Span]],
    root: tree_sitter.Node,
    lines: Sequence[str],
    language: str,
    path: str,
    module_rows: tuple[int, ...],
) -> Span:
    container = None
    for d, span in classes:
        if d.top <= first and last <= d.end and (container is None or d.top >= container[0].top):
            container = (d, span)
    if container is not None:
        span = container[1]
        return Span(
            first,
            last,
            "class",
            span.name,
            span.qualified_name,
            span.parent,
            span.signature,
            boundaries=tuple(n.start_point[0] for n in statements(container[0].node)),
        )
    docstring = ""
    first_statement = root.named_children[0] if root.named_child_count else None
    if language == "python" and first_statement and first <= first_statement.start_point[0] <= last:
        docstring = python_docstring(root)
    return Span(first, last, "module", "", path, "", "", docstring, boundaries=module_rows)
