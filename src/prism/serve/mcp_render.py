"""Render engine answers as compact Markdown for MCP tool results, filling a token budget item by item."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from prism.index.symbols import SymbolRefs
from prism.models import Hit, StoredChunk
from prism.pack.records import Pack
from prism.pack.show import ShownCode
from prism.pack.tokens import Tokenizer

PREVIEW_LINES = 8
RESERVE_TOKENS = 24  # room kept for the "N more" line
STALE = "STALE (changed on disk since indexed)"


def _fence(text: str, language: str) -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def handle(path: str, chunk: StoredChunk) -> str:
    """The handle read_code accepts: path:start-end."""
    return f"{path}:{chunk.chunk.start_line}-{chunk.chunk.end_line}"


def _label(chunk: StoredChunk) -> str:
    c = chunk.chunk
    name = c.qualified_name if c.kind not in ("window", "module") else ""
    return f"{c.kind} `{name}`" if name else c.kind


def _preview(chunk: StoredChunk) -> str:
    c = chunk.chunk
    lines = c.content.splitlines()
    body = "\n".join(lines[:PREVIEW_LINES])
    if len(lines) > PREVIEW_LINES:
        body += f"\n… ({len(lines) - PREVIEW_LINES} more lines)"
    return _fence(body, c.language if c.language != "text" else "")


class _Filler:
    """Append blocks while they fit the budget; count what did not."""

    def __init__(self, tokenizer: Tokenizer, budget: int, head: str) -> None:
        self.tokenizer = tokenizer
        self.budget = budget - RESERVE_TOKENS
        self.parts = [head]
        self.used = tokenizer.count(head)
        self.left_out = 0

    def room(self) -> int:
        """Tokens still free for one more block (its leading newline included)."""
        return self.budget - self.used

    def add(self, *choices: str) -> bool:
        """Add the first choice that fits (richest first); False when none does."""
        if self.left_out:
            self.left_out += 1
            return False
        for text in choices:
            cost = self.tokenizer.count("\n" + text)
            if self.used + cost <= self.budget:
                self.parts.append(text)
                self.used += cost
                return True
        self.left_out = 1
        return False

    def text(self, more: str) -> str:
        if self.left_out:
            self.parts.append(f"… {self.left_out} more {more} not shown (raise max_tokens).")
        return "\n".join(self.parts)


def render_hits(query: str, rows: Sequence[tuple[str, Hit, bool]], note: str,
                tokenizer: Tokenizer, budget: int) -> str:
    head = f'{len(rows)} results for "{query[:200]}"' + (f"\n> {note}" if note else "")
    if not rows:
        head += "\nNo match. Try other words, an identifier, or drop filters."
    filler = _Filler(tokenizer, budget, head)
    for i, (path, hit, stale) in enumerate(rows, 1):
        line = (f"{i}. {handle(path, hit.chunk)} {_label(hit.chunk)} score={hit.score:.3f}"
                + (f" {STALE}" if stale else ""))
        filler.add(f"{line}\n{_preview(hit.chunk)}", line)
    return filler.text("results")


def render_context(pack: Pack, stale: Collection[str] = ()) -> str:
    """The pack's text, after a line naming its files that changed on disk since indexing."""
    if not stale:
        return pack.text
    return f"> {STALE}: {', '.join(sorted(stale))}\n\n{pack.text}"


def render_read(shown: Sequence[ShownCode], prefix: str, note: str, tokenizer: Tokenizer,
                budget: int, stale: Collection[str] = ()) -> str:
    """Each piece of code with line numbers; a piece that does not fit whole is cut at a line,
    with a note naming the lines left out and the range that reads them."""
    head = f"> {note}" if note else ""
    filler = _Filler(tokenizer, budget, head)
    for item in shown:
        title = (f"{prefix}{item.path}:{item.start_line}-{item.end_line}"
                 + (f" `{item.symbol}`" if item.symbol else "") + (f" {STALE}" if item.path in stale else ""))
        width = len(str(item.end_line))
        lines = [f"{n:>{width}} {line}" for n, line in enumerate(item.content.split("\n"), item.start_line)]
        block = f"{title}\n{_fence(chr(10).join(lines), '')}"
        if tokenizer.count("\n" + block) <= filler.room():
            filler.add(block)
        else:
            filler.add(*_cut_at_line(tokenizer, title, lines, f"{prefix}{item.path}", item.start_line,
                                     filler.room()), title)
    return filler.text("pieces").strip()


def _cut_at_line(tokenizer: Tokenizer, title: str, lines: Sequence[str], path: str, start: int,
                 room: int) -> list[str]:
    """The piece's longest run of whole first lines that fits `room` tokens, with the cut named."""
    last = start + len(lines) - 1

    def piece(kept: int) -> str:
        rest = f"{start + kept}-{last}"
        return (f"{title}\n{_fence(chr(10).join(lines[:kept]), '')}\n"
                f"… cut to fit max_tokens: lines {rest} not shown (read_code {path}:{rest})")

    low, high, best = 1, len(lines) - 1, 0
    while low <= high:  # token counts grow with the lines kept
        mid = (low + high) // 2
        if tokenizer.count("\n" + piece(mid)) <= room:
            best, low = mid, mid + 1
        else:
            high = mid - 1
    return [piece(best)] if best else []


def render_symbol(name: str, rows: Sequence[tuple[str, SymbolRefs]], note: str,
                  tokenizer: Tokenizer, budget: int) -> str:
    defs = [(p, c) for p, r in rows for c in r.definitions]
    callers = [(p, c) for p, r in rows for c in r.callers]
    importers = [(p, c) for p, r in rows for c in r.importers]
    head = f"`{name}`: {len(defs)} definitions, {len(callers)} callers, {len(importers)} importers"
    if note:
        head += f"\n> {note}"
    if not defs:
        head += "\nNot defined in the index. Try search_code, or a shorter name."
    filler = _Filler(tokenizer, budget, head)
    if defs:
        filler.add("## Definitions")
    for prefix, chunk in defs:
        c = chunk.chunk
        line = f"- {handle(prefix + c.path, chunk)} {_label(chunk)}"
        sig = c.signature or (c.content.splitlines() or [""])[0]
        doc = c.docstring.strip().splitlines()[0] if c.docstring.strip() else ""
        filler.add(f"{line}\n{_fence(sig + (chr(10) + doc if doc else ''), c.language)}", line)
    for title, items in (("Callers", callers), ("Importers", importers)):
        if items:
            filler.add(f"## {title}")
        for prefix, chunk in items:
            filler.add(f"- {handle(prefix + chunk.chunk.path, chunk)} {_label(chunk)}")
    return filler.text("entries")


def render_status(rows: Sequence[dict[str, object]]) -> str:
    """One JSON document: a list of per-project status objects."""
    return json.dumps({"projects": list(rows)}, indent=1, default=str)
