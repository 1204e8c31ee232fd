"""What every CLI command shares: one JSON document on stdout, messages on stderr, PrismErrors as exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from prism.errors import PrismError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


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
    except PrismError as exc:
        if json_out:
            emit_json({"error": exc.to_dict()})
        err.print(f"[bold red]Error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err.print(f"[dim]{exc.hint}[/]", highlight=False)
        raise typer.Exit(exc.exit_code) from None
