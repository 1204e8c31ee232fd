"""Render a selection as Markdown, XML-tagged blocks or JSON, and count the result exactly.

Chunks of one file are emitted together, in line order, under one file header. The
manifest of omitted chunks comes last. `assemble` returns the text and its true token
count (Markdown and XML: the sum of its lines' counts, pieces.py); the JSON document states
its own count, found by re-rendering until it is stable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from prism.pack.pieces import joined_count
from prism.pack.records import Format, OmittedChunk, PackedChunk, Savings
from prism.pack.tokens import Tokenizer

PACK_SCHEMA_VERSION = 1  # of the JSON pack (docs/cli.md)
FENCE_LANGUAGE = {"csharp": "cs", "text": "", "tsx": "tsx"}


@dataclass(frozen=True)
class Frame:
    """What the output says about itself, around the chunks."""

    budget: int
    tokenizer: str
    intent: str
    fmt: Format
    line_numbers: bool = False


def _lines_label(chunk: PackedChunk | OmittedChunk) -> str:
    if chunk.start_line == chunk.end_line:
        return f"L{chunk.start_line}"
    return f"L{chunk.start_line}-{chunk.end_line}"


def _numbered(chunk: PackedChunk) -> str:
    if chunk.level != "full":
        return chunk.content
    width = len(str(chunk.end_line))
    return "\n".join(f"{chunk.start_line + i:>{width}} {line}"
                     for i, line in enumerate(chunk.content.split("\n")))


def _xml_attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def _xml_text(content: str) -> tuple[str, str, str]:
    """Chunk content as XML character data, (before, text, after): as is when already safe, else
    one CDATA section.

    Code containing `</chunk>`, `&` or `<` cannot end or corrupt its element; a `]]>` inside
    is split across two CDATA sections, so every XML output parses and round-trips the code.
    """
    if "<" not in content and "&" not in content and "]]>" not in content:
        return "", content, ""
    return "<![CDATA[", content.replace("]]>", "]]]]><![CDATA[>"), "]]>"


def _fence_for(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return fence


def block_parts(chunk: PackedChunk, frame: Frame) -> tuple[str, str, str]:
    """(before, code, after): a chunk's block (not in JSON) is their concatenation, and `code`
    is its content as the format writes it ("" for a reference).

    What goes around the code depends on the code only through its fence (Markdown) and its
    CDATA section (XML), so a block can be priced from the code's own token count.
    """
    content = _numbered(chunk) if frame.line_numbers else chunk.content
    symbol = chunk.symbol or chunk.kind
    if frame.fmt == "xml":
        attrs = (f'lines="{chunk.start_line}-{chunk.end_line}" symbol="{_xml_attr(symbol)}" '
                 f'level="{chunk.level}" handle="{chunk.handle}"')
        if chunk.level == "reference":
            return f"<chunk {attrs}/>", "", ""
        opening, text, closing = _xml_text(content)
        return f"<chunk {attrs}>\n{opening}", text, f"{closing}\n</chunk>"
    label = f"{_lines_label(chunk)} `{symbol}` ({chunk.level}, #{chunk.handle})"
    if chunk.level == "reference":
        return f"- {label}", "", ""
    fence = _fence_for(content)
    language = FENCE_LANGUAGE.get(chunk.language, chunk.language)
    return f"{label}\n{fence}{language}\n", content, f"\n{fence}"


def chunk_block(chunk: PackedChunk, frame: Frame) -> str:
    """The text one chunk adds to the output (without its file header)."""
    if frame.fmt == "json":
        return json.dumps(chunk.to_dict(), ensure_ascii=False)
    return "".join(block_parts(chunk, frame))


def file_header(path: str, frame: Frame) -> tuple[str, str]:
    """(opening, closing) text around one file's chunks."""
    if frame.fmt == "xml":
        return f'<file path="{_xml_attr(path)}">', "</file>"
    if frame.fmt == "json":
        return "", ""
    return f"## {path}", ""


def omitted_entry(item: OmittedChunk, frame: Frame) -> str:
    symbol = item.symbol or "-"
    if frame.fmt == "json":
        return json.dumps(item.to_dict(), ensure_ascii=False)
    if frame.fmt == "xml":
        return (f'<chunk path="{_xml_attr(item.path)}" lines="{item.start_line}-{item.end_line}" '
                f'symbol="{_xml_attr(symbol)}" handle="{item.handle}" tokens="{item.tokens}"/>')
    return f"- {item.path}:{item.start_line}-{item.end_line} `{symbol}` #{item.handle} ({item.tokens} tokens)"


def ordered(chunks: Sequence[PackedChunk]) -> list[PackedChunk]:
    first_seen: dict[str, int] = {}
    for index, chunk in enumerate(chunks):
        first_seen.setdefault(chunk.path, index)
    # Files in the order their best chunk was chosen; chunks of a file in line order.
    return sorted(chunks, key=lambda c: (first_seen[c.path], c.start_line, c.end_line))


def render_text(chunks: Sequence[PackedChunk], omitted: Sequence[OmittedChunk], omitted_total: int,
                frame: Frame, tokens: int, savings: dict[str, object]) -> str:
    """The whole output for one selection (tokens and savings are stated only in JSON)."""
    if frame.fmt == "json":
        doc: dict[str, object] = {
            "schema_version": PACK_SCHEMA_VERSION,
            "budget": frame.budget, "tokens": tokens, "tokenizer": frame.tokenizer,
            "intent": frame.intent, "chunks": [c.to_dict() for c in ordered(chunks)],
            "omitted": [o.to_dict() for o in omitted], "omitted_total": omitted_total,
            "savings": savings,
        }
        return json.dumps(doc, ensure_ascii=False)
    return "\n".join(text_parts(chunks, omitted, omitted_total, frame)) + "\n"


def text_parts(chunks: Sequence[PackedChunk], omitted: Sequence[OmittedChunk], omitted_total: int,
               frame: Frame) -> list[str]:
    """The lines (headers, blocks, manifest entries) a Markdown or XML output joins with newlines."""
    chunks = ordered(chunks)
    parts: list[str] = []
    if frame.fmt == "xml":
        parts.append(f'<context intent="{frame.intent}" budget="{frame.budget}">')
    else:
        parts.append(f"# Context ({frame.intent}; {len(chunks)} chunks)")
    for path, group in groupby(chunks, key=lambda c: c.path):
        opening, closing = file_header(path, frame)
        parts.append(opening)
        parts.extend(chunk_block(c, frame) for c in group)
        if closing:
            parts.append(closing)
    if omitted or omitted_total:
        more = omitted_total - len(omitted)
        if frame.fmt == "xml":
            parts.append(f'<omitted total="{omitted_total}" fetch="prism show HANDLE">')
            parts.extend(omitted_entry(o, frame) for o in omitted)
            parts.append("</omitted>")
        else:
            parts.append("## Omitted (fetch with `prism show HANDLE`)")
            parts.extend(omitted_entry(o, frame) for o in omitted)
            if more > 0:
                parts.append(f"- … and {more} more (a larger --budget, or `prism search`, brings them up)")
    if frame.fmt == "xml":
        parts.append("</context>")
    return parts


def assemble(chunks: Sequence[PackedChunk], omitted: Sequence[OmittedChunk], omitted_total: int,
             frame: Frame, tokenizer: Tokenizer, savings: Savings | None, guess: int = 0) -> tuple[str, int]:
    """(text, true token count); for JSON the stated count equals the true count when stable.

    guess: a likely count to state first (e.g. a similar document's); a good one saves JSON a
    full re-count, a bad one only costs that count.
    """
    if frame.fmt != "json":  # only JSON states its own count (and the savings)
        parts = text_parts(chunks, omitted, omitted_total, frame)
        return "\n".join(parts) + "\n", joined_count(tokenizer, parts)
    tokens = max(guess, 0)
    text = ""
    for _ in range(6):
        stated = savings.to_dict(tokens) if savings else {}
        text = render_text(chunks, omitted, omitted_total, frame, tokens, stated)
        counted = tokenizer.count(text)
        if counted == tokens:
            return text, counted
        tokens = counted
    # No fixed point (a digit count flips back and forth): state the larger count.
    stated = savings.to_dict(tokens) if savings else {}
    text = render_text(chunks, omitted, omitted_total, frame, tokens, stated)
    return text, max(tokens, tokenizer.count(text))
