"""Styled output lines, printed through rich, or as plain text where rich would print exactly that text.

Rich costs a CLI search about a tenth of its start-up. Into a pipe or file (no terminal, no
FORCE_COLOR or TTY_COMPATIBLE) rich prints a line's text without styles, unless the text holds
what its markup or emoji codes would change: a `[` outside escaped text, a backslash (its escaping
drops some), tabs and control codes, an emoji code such as `:smile:`. `plain_text` answers None
for those, and they go through rich as before. tests/unit/serve/test_lines.py compares the two.
"""

from __future__ import annotations

import builtins
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

# rich._emoji_replace's pattern: rich looks each name up in its emoji table.
EMOJI_CODE = re.compile(r"(:(\S*?)(?:(?:\-)(emoji|text))?:)")
RICH_CHANGES = frozenset("\t\x07\x08\x0b\x0c\x0d")  # tabs are expanded, these control codes dropped
RICH_TERMINAL_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "DATABRICKS_RUNTIME_VERSION")


@dataclass(frozen=True)
class Piece:
    text: str
    style: str = ""  # a rich style, e.g. "dim"; "" for none
    escaped: bool = False  # shown literally (rich.markup.escape); else the text is markup as it stands


@dataclass(frozen=True)
class Line:
    pieces: tuple[Piece, ...]
    stderr: bool = False
    highlight: bool | None = False  # rich's highlight= (None: the console's default)

    def markup(self) -> str:
        """The rich markup of this line."""
        from rich.markup import escape

        return "".join(f"[{p.style}]{escape(p.text) if p.escaped else p.text}[/]" if p.style
                       else escape(p.text) if p.escaped else p.text for p in self.pieces)


def plain_piece(piece: Piece) -> str | None:
    """The text rich prints for a piece without styles, or None when rich would change it."""
    text = piece.text
    if not RICH_CHANGES.isdisjoint(text) or "\\" in text or ("[" in text and not piece.escaped):
        return None
    for match in EMOJI_CODE.finditer(text):
        if "[" in text:  # rich replaces emoji codes in the pieces between escaped tags: not worked out here
            return None
        from rich._emoji_codes import EMOJI

        if match.group(2).lower() in EMOJI:
            return None
    return text


def plain_text(lines: Sequence[Line]) -> list[tuple[bool, str]] | None:
    """(stderr, text) per line as rich would print it without styles; None if any line needs rich."""
    plain = []
    for line in lines:
        pieces = [plain_piece(p) for p in line.pieces]
        if any(p is None for p in pieces):
            return None
        plain.append((line.stderr, "".join(p or "" for p in pieces)))
    return plain


def plain_streams(streams: Sequence[TextIO]) -> bool:
    """Whether rich would print to these streams without styles: no terminal, as rich decides it."""
    if any(name in os.environ for name in RICH_TERMINAL_ENV) or hasattr(builtins, "get_ipython"):
        return False
    for stream in streams:
        isatty = getattr(stream, "isatty", None)
        if isatty is None or isatty() or (getattr(stream, "encoding", "") or "").lower() not in ("utf-8", "utf8"):
            return False
    return True


def print_lines(lines: Sequence[Line]) -> None:
    """Print the lines: as plain text into pipes and files when that is what rich would print, else through rich."""
    plain = plain_text(lines) if plain_streams((sys.stdout, sys.stderr)) else None
    if plain is not None:
        for stderr, text in plain:
            stream = sys.stderr if stderr else sys.stdout
            stream.write(text + "\n")
            stream.flush()  # as rich does: stdout and stderr keep their order in one file
        return
    from prism.serve.output import console

    for line in lines:
        console(stderr=line.stderr).print(line.markup(), highlight=line.highlight)
