"""The `prism` command: a plain `prism search` starts without typer or pydantic; every other command line
goes to the typer CLI (`prism.serve.cli.app`)."""

from __future__ import annotations

import os
import sys

from prism.serve.cli_search import guarded, quick_search


def main() -> None:
    """Console entry point: a bug prints one line (the traceback with --debug / PRISM_DEBUG=1)."""
    debug = "--debug" in sys.argv or os.environ.get("PRISM_DEBUG") == "1"
    if "--debug" in sys.argv:
        sys.argv.remove("--debug")
    if quick_search(sys.argv[1:], debug):
        return
    from prism.serve.cli import app

    guarded(app, debug)
