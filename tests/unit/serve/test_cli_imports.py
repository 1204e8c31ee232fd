"""The CLI starts light: `prism --help`, `search`, `status` and `show` on a lexical index load neither
the HTTP server, the MCP SDK, LLM clients, PostgreSQL/Redis drivers, numpy nor the model; `search`,
`status` and `show` not even the server's and the operations' typer commands, nor rich's progress bars;
a plain `search` not even typer, pydantic or (into a pipe, for plain results) rich.

Each case runs in a fresh interpreter, because this test process has long since imported all of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY_PACKAGES = {"fastapi", "uvicorn", "starlette", "mcp", "httpx", "psycopg", "redis", "onnxruntime",
                  "numpy", "cryptography"}
HEAVY_PRISM = ("prism.serve.mcp", "prism.index.embed", "prism.llm")
LIGHT_HTTP = {"prism.serve.http", "prism.serve.http.commands"}  # the typer commands, not the server
# What `prism --help` may list but a command that needs none of them must not load.
LISTED_ONLY = ("prism.serve.http", "prism.serve.ops_commands", "rich.progress")

# Run the CLI the way the `prism` script does, then report what got imported on stderr's last line.
RUN_CLI = """
import json, sys
from prism.serve.entry import main
sys.argv = ["prism", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exit:
    code = exit.code or 0
sys.stdout.flush()
sys.stderr.write("\\n" + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(code)
"""


def run(code: str, *args: str) -> tuple[str, set[str]]:
    """(stdout, imported module names) of `code` run with `args` in a fresh interpreter."""
    env = {**os.environ, "PRISM_EMBED": "false"}  # a lexical index: no vectors to search
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, set(json.loads(proc.stderr.strip().splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY_PACKAGES
                  or m.startswith(HEAVY_PRISM) or (m.startswith("prism.serve.http") and m not in LIGHT_HTTP))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "budget.py").write_text('def fit_budget(tokens: int) -> int:\n    """Trim to the budget."""\n'
                                    "    return min(tokens, 8000)\n", encoding="utf-8")
    run(RUN_CLI, "index", str(root), "--quiet")
    return root


def listed_only(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith(LISTED_ONLY))


def test_importing_the_cli_loads_no_server_client_or_numpy() -> None:
    _, modules = run("import json, sys, prism.serve.cli; sys.stderr.write(json.dumps(sorted(sys.modules)))")
    assert "prism.serve.cli" in modules
    assert heavy(modules) == []
    assert listed_only(modules) == []
    assert "prism.engine" not in modules and "prism.config" not in modules  # loaded by the commands that use them


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["status", "--help"], ["show", "--help"]])
def test_help_loads_no_server_client_or_numpy(args: list[str]) -> None:
    stdout, modules = run(RUN_CLI, *args)
    assert "Usage: prism" in stdout
    assert heavy(modules) == []


def test_lexical_search_status_and_show_load_no_server_client_or_numpy(project: Path) -> None:
    stdout, modules = run(RUN_CLI, "search", "budget", "--project", str(project), "--json")
    assert [hit["path"] for hit in json.loads(stdout)["results"]] == ["budget.py"]  # it really searched
    assert heavy(modules) == []
    assert listed_only(modules) == []
    for args in (["status", "--project", str(project)], ["show", "budget.py:1-2", "--project", str(project)]):
        _, modules = run(RUN_CLI, *args)
        assert heavy(modules) == [], args
        assert listed_only(modules) == [], args


@pytest.mark.parametrize("extra", [[], ["--json"], ["--files", "--limit", "3"]])
def test_a_plain_lexical_search_loads_no_typer_pydantic_or_numpy(project: Path, extra: list[str]) -> None:
    stdout, modules = run(RUN_CLI, "search", "budget", "--project", str(project), *extra)
    assert "budget.py" in stdout  # it really searched
    assert heavy(modules) == []
    assert sorted(m for m in modules if m.split(".")[0] in ("typer", "pydantic", "pydantic_settings")) == []
    assert "prism.serve.cli" not in modules and "prism.config" not in modules
    assert not any(m.split(".")[0] == "rich" for m in modules)  # into a pipe, plain text is what rich would print


def test_help_still_lists_the_commands_that_load_when_run() -> None:
    stdout, _ = run(RUN_CLI, "--help")
    for name in ("serve", "audit", "usage", "keys", "backup", "restore", "maintain", "doctor"):
        assert f" {name} " in stdout, name
    stdout, modules = run(RUN_CLI, "backup", "--help")
    assert "backup verify SRC" in stdout and "prism.serve.ops_commands" in modules
