"""docs/cli.md documents every `--json` shape: each command's real output has exactly the
documented fields (nested ones too), of the documented types, with schema_version first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from json_shapes import check, documented
from prism.serve.cli import app

runner = CliRunner()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "calc.py").write_text(
        "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n    return a + b\n\n\n"
        "class Calculator:\n    def total(self, xs):\n        return sum(xs)\n"
        + "".join(f"\n\ndef helper_{n}(x):\n    return add(x, {n})\n" for n in range(40)))
    (root / "src" / "blob.py").write_bytes(b"\0binary")
    return root


def run(*args: str) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_every_command_with_json_is_documented() -> None:
    import typer.main

    names: list[str] = []

    def collect(prefix: str, command: object) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            full = f"{prefix} {name}".strip()
            if any(p.name == "json_out" for p in sub.params):
                names.append(full)
            collect(full, sub)

    collect("", typer.main.get_command(app))
    assert set(names) <= set(documented()), sorted(set(names) - set(documented()))


def test_documented_shapes_match_the_real_output(repo: Path, prism_home: Path) -> None:
    shapes = documented()
    project = ["--project", str(repo)]
    check(run("index", str(repo)), shapes["index"])
    check(run("status", *project), shapes["status"])
    check(run("projects"), shapes["projects"])
    check(run("search", "add numbers", "--explain", *project), shapes["search"])
    result = runner.invoke(app, ["context", "what helpers call add?", "--budget", "300", *project, "--json"])
    check(json.loads(result.stdout), shapes["context"])
    check(run("map", "--budget", "200", *project), shapes["map"])
    check(run("show", "src/calc.py:1-3", *project), shapes["show"])
    check(run("stats", *project), shapes["stats"])
    check(run("mcp", "install", *project), shapes["mcp install"])
    created = run("keys", "create", "--name", "ci", "--role", "reader")
    check(created, shapes["keys create"])
    key_id = str(created["key"]["key_id"])  # type: ignore[index]
    check(run("keys", "list"), shapes["keys list"])
    check(run("keys", "edit", key_id, "--description", "for CI"), shapes["keys edit"])
    check(run("keys", "revoke-token", "some-jti"), shapes["keys revoke-token"])
    check(run("keys", "rotate", key_id), shapes["keys rotate"])
    check(run("keys", "revoke", key_id), shapes["keys revoke"])
    check(run("audit"), shapes["audit"])
    check(run("show", "no_such_symbol_anywhere", *project), shapes["error"])
    check(run("forget", *project), shapes["forget"])


def test_operations_commands_match_the_documented_shapes(repo: Path, prism_home: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    shapes = documented()
    run("index", str(repo))
    run("keys", "create", "--name", "ci", "--role", "reader")  # a server database to count
    made = run("backup", str(tmp_path / "backups"))
    check(made, shapes["backup create"])
    check(run("backup", "verify", str(made["backup"])), shapes["backup verify"])
    check(run("maintain", "--daily", "--weekly", "--monthly", "--backups", str(tmp_path / "backups")),
          shapes["maintain"])
    check(run("doctor", "--no-model"), shapes["doctor"])
    monkeypatch.setenv("PRISM_HOME", str(tmp_path / "new-home"))
    check(run("restore", str(made["backup"])), shapes["restore"])


def test_watch_lines_match_the_documented_shape(repo: Path, prism_home: Path) -> None:
    env = {**os.environ, "PRISM_HOME": str(prism_home), "PRISM_EMBEDDER": "hashing"}
    with subprocess.Popen([sys.executable, "-m", "prism", "watch", "--project", str(repo), "--json"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # the first update is the catch-up index
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    check(json.loads(line), documented()["watch"])
