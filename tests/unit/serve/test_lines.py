"""Plain text is printed only where it is exactly what rich prints into a pipe; everything else goes through rich."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from prism.serve.lines import RICH_TERMINAL_ENV, Line, Piece, plain_streams, plain_text

TEXTS = [
    "plain", "a[i] = b[j]", "x\\[0]", "[dim]", "[/]", "a]b", "a[b", "[bold]x[/bold]", "emoji :smile: here",
    ":SMILE:", ":thumbs_up-emoji:", ":x:smile:", "std::vector<int>", "a[::2]", "def f(x):  # a: b",
    "http://host:8080/:y", "tab\there", "cr\r\nlf", "bell\x07", "wide 漢字 ✓ …", "trailing   ", "", "ends with \\",
    "    line one\n    line two\n", "[link=https://x]y[/link]", "[#ff0000]red", "@click[x]",
]
MUST_BE_PLAIN = ["plain", "a[i] = b[j]", "std::vector<int>", "def f(x):  # a: b", "wide 漢字 ✓ …", "[dim]"]


def rich_prints(lines: list[Line]) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    consoles = {False: Console(file=out, soft_wrap=True), True: Console(file=err, soft_wrap=True)}
    for line in lines:
        consoles[line.stderr].print(line.markup(), highlight=line.highlight)
    return out.getvalue(), err.getvalue()


def plain_prints(lines: list[Line]) -> tuple[str, str] | None:
    plain = plain_text(lines)
    if plain is None:
        return None
    return ("".join(t + "\n" for e, t in plain if not e), "".join(t + "\n" for e, t in plain if e))


@pytest.fixture(autouse=True)
def no_forced_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in RICH_TERMINAL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("text", TEXTS)
def test_plain_is_what_rich_prints(text: str) -> None:
    shapes = [
        [Line((Piece(text, "dim", escaped=True),))],
        [Line((Piece(" 1. "), Piece("0.50", "cyan"), Piece("  "), Piece(text), Piece("  "), Piece(text, "bold")))],
        [Line((Piece("warning:", "yellow"), Piece(f" {text}")), stderr=True), Line((Piece(text, escaped=True),))],
        [Line((Piece(text),), stderr=True, highlight=None)],
    ]
    for lines in shapes:
        plain = plain_prints(lines)
        if plain is not None:
            assert plain == rich_prints(lines), lines
        elif text in MUST_BE_PLAIN and all(p.escaped or "[" not in p.text for line in lines for p in line.pieces):
            pytest.fail(f"{text!r} needs no rich, yet {lines} went through it")


def test_markup_is_the_commands_markup() -> None:
    line = Line((Piece(" 1. "), Piece("0.50", "cyan"), Piece("  a.py:1-2  "), Piece("f", "bold"), Piece(" "),
                 Piece("function", "dim")))
    assert line.markup() == " 1. [cyan]0.50[/]  a.py:1-2  [bold]f[/] [dim]function[/]"
    assert Line((Piece("a[i]", "dim", escaped=True),)).markup() == "[dim]a\\[i][/]"


def test_only_pipes_and_files_get_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        encoding = "utf-8"

        def isatty(self) -> bool:
            return True

    class Pipe(io.StringIO):
        encoding = "utf-8"

    assert plain_streams([Pipe(), Pipe()])
    assert not plain_streams([Pipe(), Tty()])
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not plain_streams([Pipe(), Pipe()])
    monkeypatch.delenv("FORCE_COLOR")

    class Latin1(Pipe):
        encoding = "latin-1"

    assert not plain_streams([Latin1()])
