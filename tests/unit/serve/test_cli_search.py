"""`prism search` started without typer says exactly what the typer command says: the same options and
defaults, the same output, errors and exit codes; any other command line is left to typer. The typer
side runs with TTY_COMPATIBLE=0, so that rich prints its lines (still without styles), not plain text."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import typer.main

from prism.serve.cli import app
from prism.serve.cli_search import SEARCH_OPTIONS, SearchArgs, parse_search_args
from prism.serve.lines import RICH_TERMINAL_ENV

TYPER_ONLY = "import sys; from prism.serve.cli import app; sys.argv[0] = 'prism'; app()"  # no quick start
QUICK = "import sys; from prism.serve.entry import main; sys.argv[0] = 'prism'; main()"


def search_command() -> typer.main.TyperCommand:
    group = typer.main.get_command(app)
    return group.commands["search"]  # type: ignore[attr-defined, no-any-return]


def test_the_options_are_the_typer_commands() -> None:
    params = {p.name: p for p in search_command().params}
    typer_options = {opt: p.name for p in params.values() if p.param_type_name == "option"
                     for opt in (*p.opts, *p.secondary_opts) if opt not in ("-h", "--help")}
    assert {opt: dest for opt, (dest, _) in SEARCH_OPTIONS.items()} == typer_options
    for opt, (dest, kind) in SEARCH_OPTIONS.items():
        assert params[dest].multiple == (kind == "many"), opt
        assert getattr(params[dest], "is_flag", False) == (kind == "flag"), opt
    defaults = {f.name: f.default for f in fields(SearchArgs) if f.name not in ("query", "settings")}
    assert defaults == {name: params[name].default for name in defaults}
    assert defaults.keys() == params.keys() - {"query"}


@pytest.mark.parametrize(("args", "expected"), [
    (["budget"], {}),
    (["-", "--json"], {"query": "-", "json_out": True}),
    (["--limit", "5", "budget", "-p", "/tmp/x"], {"limit": 5, "project": Path("/tmp/x")}),
    (["budget", "--limit=100", "--min-score", "0.25"], {"limit": 100, "min_score": 0.25}),
    (["budget", "--lang", "python", "--lang=rust", "--kind", "method"], {"lang": ["python", "rust"],
                                                                         "kind": ["method"]}),
    (["budget", "--files", "--explain", "--code-only", "--scope", "code", "--since", "7d", "--path", "src/*.py",
      "--index-dir", "idx"], {"files": True, "explain": True, "code_only": True, "scope": "code", "since": "7d",
                              "path": "src/*.py", "index_dir": Path("idx")}),
])
def test_plain_command_lines_are_parsed(args: list[str], expected: dict[str, object]) -> None:
    parsed = parse_search_args(args)
    assert parsed == SearchArgs(**{"query": "budget", **expected})  # type: ignore[arg-type]


@pytest.mark.parametrize("args", [
    [], ["a", "b"], ["--help"], ["budget", "-h"], ["budget", "--"], ["budget", "--bogus"], ["budget", "-n5"],
    ["budget", "--limit"], ["budget", "--limit", "0"], ["budget", "--limit", "101"], ["budget", "--limit", "05"],
    ["budget", "--limit", "x"], ["budget", "--limit", "2", "--limit", "3"], ["budget", "--min-score", "1.5"],
    ["budget", "--min-score", "1e-1"], ["budget", "--path", "-x"], ["budget", "--json=1"], ["budget", "-p", ""],
    ["-budget"],
])
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert parse_search_args(args) is None


def run(code: str, *args: str, cwd: Path, home: Path | None = None) -> tuple[int, str, str]:
    env = {**os.environ, "PRISM_EMBED": "false", **({"PRISM_HOME": str(home)} if home else {})}
    for name in RICH_TERMINAL_ENV:
        env.pop(name, None)
    if code == TYPER_ONLY:
        env["TTY_COMPATIBLE"] = "0"  # rich decides, and prints no styles
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(project, PRISM_HOME holding its index)."""
    root = tmp_path_factory.mktemp("quick") / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "budget.py").write_text('def fit_budget(tokens: int) -> int:\n    """Trim to the [budget]."""\n'
                                    "    return min(tokens, 8000)\n\n\nclass Budget:\n    limit = 8000\n\n\n"
                                    'def budget_emoji():\n    return ":smile: budget"\n\n\n'
                                    'def budget_regex():\n    return r"\\[budget\\]"\n', encoding="utf-8")
    (root / "tests" / "test_budget.py").write_text("def test_budget():\n    assert fit_budget(9000) == 8000\n",
                                                   encoding="utf-8")
    home = root.parent / "home"
    assert run(TYPER_ONLY, "index", str(root), "--quiet", cwd=root, home=home)[0] == 0
    return root, home


@pytest.mark.parametrize("args", [
    ["budget"], ["budget", "--json"], ["budget", "--files", "--explain"], ["budget", "-n", "1", "--json"],
    ["budget", "--explain", "--json"], ["budget", "--kind", "class"], ["budget", "--kind", "nope"],
    ["budget", "--lang", "cobol", "--json"], ["budget", "--scope", "tests", "--code-only"],
    ["budget", "--path", "tests/*"], ["budget", "--since", "yesterday"], ["zzzunknownword"], ["  "],
])
def test_quick_and_typer_say_the_same(project: tuple[Path, Path], args: list[str]) -> None:
    root, home = project
    assert parse_search_args(args) is not None  # this command line does start quickly
    quick = run(QUICK, "search", *args, cwd=root, home=home)
    assert quick == run(TYPER_ONLY, "search", *args, cwd=root, home=home)


def test_a_missing_index_is_the_same_error(tmp_path: Path) -> None:
    said = [run(code, "search", "budget", "--project", str(tmp_path), cwd=tmp_path) for code in (QUICK, TYPER_ONLY)]
    assert said[0] == said[1] and said[0][0] != 0 and "prism index" in said[0][2]
