"""Docs that cannot drift: the CLI and settings references match the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    expected = load_generator().cli_reference()
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == expected, (
        "docs/cli.md is stale: run `.venv/bin/python scripts/gen_docs.py`")


def test_settings_reference_is_current() -> None:
    expected = load_generator().settings_reference()
    assert (ROOT / "docs" / "settings.md").read_text(encoding="utf-8") == expected, (
        "docs/settings.md is stale: run `.venv/bin/python scripts/gen_docs.py`")


def test_readme_names_every_top_level_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    generator = load_generator()
    for name in generator.typer.main.get_command(generator.app).commands:
        assert f"prism {name}" in readme, f"README.md does not mention `prism {name}`"
