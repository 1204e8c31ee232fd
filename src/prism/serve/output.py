"""What every CLI command shares: one JSON document on stdout, messages on stderr, PrismErrors as exit codes."""

from __future__ import annotations

import errno
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

from prism.errors import NotWritableError, PrismError

if TYPE_CHECKING:
    from rich.console import Console

    out: Console  # stdout, for results
    err: Console  # stderr, for messages and progress


@cache
def console(stderr: bool) -> Console:
    """The rich console on stdout or stderr, made (and rich imported) on first use: `--json` needs none."""
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True)


def __getattr__(name: str) -> Console:  # `out` and `err`, made when first imported or read
    if name in ("out", "err"):
        return console(stderr=name == "err")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


JSON_SCHEMA_VERSION = 1  # of every --json document; docs/cli.md describes each shape


def emit_json(data: object) -> None:
    """One JSON document on stdout; an object gets ``schema_version`` first."""
    if isinstance(data, dict) and "schema_version" not in data:
        data = {"schema_version": JSON_SCHEMA_VERSION, **data}
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def reporting(json_out: bool) -> Iterator[None]:
    """Turn PrismErrors into a message (or JSON error envelope) and the error's exit code."""
    try:
        yield
    except (PrismError, OSError) as raised:
        exc = raised if isinstance(raised, PrismError) else not_writable(raised)
        if exc is None:
            raise
        if json_out:
            emit_json({"error": exc.to_dict()})
        err = console(stderr=True)
        err.print(f"[bold red]Error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err.print(f"[dim]{exc.hint}[/]", highlight=False)
        raise SystemExit(exc.exit_code) from None  # what typer.Exit ends in, without importing typer


def not_writable(exc: OSError) -> NotWritableError | None:
    """A write refused by a read-only or foreign PRISM_HOME, said as such (not as a bug); None otherwise."""
    if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
        return None
    place = exc.filename or "a file under PRISM_HOME"
    return NotWritableError(
        f"PRISM cannot write {place}: {exc.strerror or 'not writable'}.",
        hint="Indexing needs a writable PRISM_HOME: fix that folder's permissions or mount, or point PRISM_HOME "
             "(or --index-dir) at a writable folder. status, search, context and show still read an existing "
             "index from a read-only home.", value=place)
