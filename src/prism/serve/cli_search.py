"""`prism search`: the command's work, and a start that needs neither typer nor pydantic.

The typer command in `prism.serve.cli` and `quick_search` both call `run_search`. `quick_search`
parses the plain forms of the command line itself (SEARCH_OPTIONS: the typer command's options, a
test keeps them equal) and reads the settings with `light_settings`; anything else (--help, an
unknown or malformed option, an out-of-range value, a setting only pydantic parses) it leaves to
typer, whose parser, messages and exit codes then apply unchanged.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from prism.serve.lines import Line, Piece, print_lines
from prism.serve.output import console, emit_json, reporting

if TYPE_CHECKING:
    from prism.engine import Prism
    from prism.retrieve.search import SearchResponse
    from prism.settings_view import SettingsView


def read_stdin() -> str:
    """Standard input as text; bytes that are not UTF-8 become U+FFFD instead of an error."""
    return sys.stdin.buffer.read().decode("utf-8", errors="replace")


def open_project(project: Path | None, index_dir: Path | None, settings: SettingsView | None = None) -> Prism:
    """The engine of --project (default: the project containing the current directory)."""
    from prism.engine import Prism, find_project_root

    if settings is None:
        from prism.config import Settings

        settings = Settings()
    root = project.resolve() if project is not None else find_project_root(Path.cwd(), settings)
    return Prism(root, settings=settings, index_dir=index_dir)


def chosen_scope(scope: str, code_only: bool) -> str:
    """--scope, validated; --code-only is --scope code (and cannot ask for another one)."""
    from prism.errors import InputError
    from prism.ingest.paths import check_scope

    if code_only and scope not in ("all", "code"):
        raise InputError(f"--code-only and --scope {scope} ask for different chunks.",
                         hint="Pass one of them.", value=scope)
    return "code" if code_only else check_scope(scope)


def parse_since(value: str | None) -> float | None:
    """--since as unix time: an ISO date/time, a unix timestamp, or an age such as 7d, 12h, 30m."""
    import datetime as dt

    from prism.errors import InputError

    if value is None:
        return None
    text = value.strip()
    age = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text)
    if age:
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[age.group(2)]
        return time.time() - float(age.group(1)) * seconds
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise InputError(f"--since {value!r} is not a date, timestamp or age.",
                         hint="Use e.g. 2024-05-01, 7d, 12h or a unix timestamp.", value=value) from None


def explain_shares(parts: dict[str, float]) -> str:
    """Each ranking feature's share of the raw score, in percent (the shares add up to 100 %)."""
    total = sum(parts.values())
    if not total:
        return "no ranking features contributed"
    ordered = sorted(parts.items(), key=lambda kv: -kv[1])
    return "shares of the score: " + ", ".join(f"{k} {v / total:.0%}" for k, v in ordered)


@dataclass
class SearchArgs:
    """`prism search`'s arguments, with the typer command's defaults."""

    query: str = ""
    project: Path | None = None
    index_dir: Path | None = None
    limit: int = 10
    files: bool = False
    explain: bool = False
    lang: list[str] | None = None
    path: str | None = None
    kind: list[str] | None = None
    since: str | None = None
    min_score: float | None = None
    scope: str = "all"
    code_only: bool = False
    json_out: bool = False
    settings: SettingsView | None = field(default=None, repr=False)  # None: prism.config.Settings()


def run_search(a: SearchArgs) -> None:
    """Search the project and print the hits (or one JSON document); errors become exit codes."""
    from prism.errors import InputError
    from prism.models import CHUNK_KINDS, SearchFilters

    with reporting(a.json_out):
        text = read_stdin() if a.query == "-" else a.query
        bad = [k for k in a.kind or () if k not in CHUNK_KINDS]
        if bad:
            raise InputError(f"Unknown --kind {bad[0]!r}.", hint=f"Use one of: {', '.join(CHUNK_KINDS)}.",
                             value=bad[0])
        from prism.ingest.languages import known_languages

        unknown = [name for name in a.lang or () if name not in known_languages()]
        if unknown:
            raise InputError(f"Unknown --lang {unknown[0]!r}.",
                             hint=f"Use one of: {', '.join(known_languages())}.", value=unknown[0])
        filters = SearchFilters(languages=tuple(a.lang or ()), path=a.path, kinds=tuple(a.kind or ()),  # type: ignore[arg-type]
                                since=parse_since(a.since), min_score=a.min_score,
                                scope=chosen_scope(a.scope, a.code_only))
        prism = open_project(a.project, a.index_dir, a.settings)
        response = prism.search(text, limit=a.limit, files=a.files, filters=filters)
        if a.json_out:
            emit_json(response.to_dict(explain=a.explain))
            return
        print_lines(hit_lines(response, files=a.files, explain=a.explain))


def hit_lines(response: SearchResponse, *, files: bool, explain: bool) -> list[Line]:
    """What `prism search` prints: warnings and "No results." on stderr, each hit (and its snippet) on stdout."""
    from prism.retrieve.search import snippet

    lines = [Line((Piece("warning:", "yellow"), Piece(f" {warning}")), stderr=True) for warning in response.warnings]
    if not response.hits:
        lines.append(Line((Piece("No results."),), stderr=True, highlight=None))
    for rank, hit in enumerate(response.hits, 1):
        c = hit.chunk.chunk
        head = [Piece(f"{rank:>2}. "), Piece(f"{hit.score:.2f}", "cyan"), Piece("  ")]
        head += ([Piece(c.path), Piece("  "), Piece(f"best match L{c.start_line}-{c.end_line}", "dim")] if files
                 else [Piece(f"{c.path}:{c.start_line}-{c.end_line}")])
        if c.qualified_name:
            head += [Piece("  "), Piece(c.qualified_name, "bold"), Piece(" "), Piece(c.kind, "dim")]
        if hit.stale:
            head += [Piece(" "), Piece("(changed on disk)", "red")]
        lines.append(Line(tuple(head)))
        if explain:
            lines.append(Line((Piece("    "), Piece(explain_shares(hit.explain), "dim"))))
        if not files:
            text = "\n".join("    " + line for line in snippet(hit.chunk, 4).splitlines())
            lines.append(Line((Piece(text, "dim", escaped=True),)))
    return lines


# -- the start without typer -------------------------------------------------------------------

OptionKind = Literal["flag", "text", "path", "many", "limit", "score"]
# option -> (SearchArgs field, kind); tests/unit/serve/test_cli_search.py checks it against the typer command.
SEARCH_OPTIONS: dict[str, tuple[str, OptionKind]] = {
    "--project": ("project", "path"), "-p": ("project", "path"),
    "--index-dir": ("index_dir", "path"),
    "--limit": ("limit", "limit"), "-n": ("limit", "limit"),
    "--files": ("files", "flag"),
    "--explain": ("explain", "flag"),
    "--lang": ("lang", "many"),
    "--path": ("path", "text"),
    "--kind": ("kind", "many"),
    "--since": ("since", "text"),
    "--min-score": ("min_score", "score"),
    "--scope": ("scope", "text"),
    "--code-only": ("code_only", "flag"),
    "--json": ("json_out", "flag"),
}
LIMIT_RANGE = (1, 100)


def _value(kind: OptionKind, raw: str) -> object | None:
    """An option's value as typer would give it, or None where typer's own parsing must decide."""
    if kind == "text" or kind == "many":
        return raw
    if kind == "path":
        return Path(raw) if raw else None
    if kind == "limit":
        if not re.fullmatch(r"[1-9][0-9]{0,2}", raw):
            return None
        return int(raw) if LIMIT_RANGE[0] <= int(raw) <= LIMIT_RANGE[1] else None
    if not re.fullmatch(r"0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+", raw):  # score: 0-1 as a plain decimal
        return None
    return float(raw)


def parse_search_args(args: Sequence[str]) -> SearchArgs | None:
    """The arguments after `search`, when they are in the plain forms parsed here; None otherwise."""
    parsed = SearchArgs()
    seen: set[str] = set()
    query: list[str] = []
    tokens = list(args)
    while tokens:
        token = tokens.pop(0)
        if token == "-" or not token.startswith("-"):
            query.append(token)
            continue
        name, eq, attached = token.partition("=") if token.startswith("--") else (token, "", "")
        spec = SEARCH_OPTIONS.get(name)
        if spec is None:  # --help, --, an unknown option, -n5
            return None
        dest, kind = spec
        if kind == "flag":
            if eq:
                return None
            setattr(parsed, dest, True)
            continue
        if eq:
            raw = attached
        elif tokens and not tokens[0].startswith("-"):
            raw = tokens.pop(0)
        else:
            return None  # no value, or one that looks like an option: typer's parser decides
        value = _value(kind, raw)
        if value is None:
            return None
        if kind == "many":
            current = getattr(parsed, dest) or []
            setattr(parsed, dest, [*current, value])
            continue
        if dest in seen:
            return None
        seen.add(dest)
        setattr(parsed, dest, value)
    if len(query) != 1:
        return None
    parsed.query = query[0]
    return parsed


def quick_search(argv: Sequence[str], debug: bool) -> bool:
    """Run `prism search ...` without typer when argv is in the plain forms; False: use the typer CLI."""
    from prism.settings_view import light_settings

    if not argv or argv[0] != "search":
        return False
    parsed = parse_search_args(argv[1:])
    if parsed is None:
        return False
    parsed.settings = light_settings()
    guarded(lambda: run_search(parsed), debug)
    return True


def guarded(command: Callable[[], None], debug: bool) -> None:
    """Run a command; a bug prints one line (the traceback with --debug / PRISM_DEBUG=1) and exits 3.

    As under typer's main, Ctrl-C exits 130 and a closed pipe (`prism search x | head -1`) exits 1 quietly.
    """
    try:
        command()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush must not fail again
        raise SystemExit(1) from None
    except Exception as exc:  # anything else is a bug: say so in one line
        if debug:
            import traceback

            traceback.print_exc()
        else:
            console(stderr=True).print(f"[bold red]Internal error:[/] {type(exc).__name__}: {exc} "
                                       "(this is a bug in PRISM; rerun with --debug for the traceback)",
                                       highlight=False)
        raise SystemExit(3) from None
