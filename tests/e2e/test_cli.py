"""The `prism` CLI: JSON on stdout only, exit codes, and the index/status/projects/forget cycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.serve.cli import app

runner = CliRunner()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "calc.py").write_text(
        "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n    return a + b\n\n\n"
        "class Calculator:\n    def total(self, xs):\n        return sum(xs)\n")
    (root / "notes.md").write_text("# Notes\n\nSome notes.\n")
    return root


def run_json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_index_status_projects_forget_cycle(repo: Path) -> None:
    data = run_json("index", "--project", str(repo))
    assert data["files_indexed"] == 2 and data["project"] == str(repo.resolve())
    again = run_json("index", "--project", str(repo))
    assert again["files_indexed"] == 0 and again["files_unchanged"] == 2

    status = run_json("status", "--project", str(repo))
    assert status["files"] == 2 and status["stale_files"] == 0
    assert status["languages"] == {"python": 1, "markdown": 1}
    assert status["embedding_model"] and status["pending_embeddings"] == 0

    (repo / "src" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    assert run_json("status", "--project", str(repo))["changed_on_disk"] == {
        "added": 0, "modified": 1, "deleted": 0}

    projects = run_json("projects")["projects"]
    assert [p["root"] for p in projects] == [str(repo.resolve())]  # type: ignore[index, union-attr]

    assert run_json("forget", "--project", str(repo))["removed"] is True
    assert run_json("projects")["projects"] == []


def test_status_without_an_index_is_a_user_error_with_a_hint(repo: Path) -> None:
    result = runner.invoke(app, ["status", "--project", str(repo), "--json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "project_not_found"
    assert "prism index" in error["details"]["hint"]


def test_missing_project_folder_is_reported(tmp_path: Path) -> None:
    result = runner.invoke(app, ["index", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_unknown_option_is_a_usage_error() -> None:
    result = runner.invoke(app, ["index", "--no-such-option"])
    assert result.exit_code == 2


def test_commands_act_on_the_project_containing_the_cwd(repo: Path, prism_home: Path) -> None:
    (repo / ".git").mkdir()
    env = {**os.environ, "PRISM_HOME": str(prism_home), "PRISM_EMBEDDER": "hashing"}
    cmd = [sys.executable, "-m", "prism", "index", "--json"]
    proc = subprocess.run(cmd, cwd=repo / "src", env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["project"] == str(repo.resolve())  # stdout holds only the JSON
    proc = subprocess.run([sys.executable, "-m", "prism", "status", "--json"], cwd=repo / "src",
                          env=env, capture_output=True, text=True, check=False)
    assert json.loads(proc.stdout)["files"] == 2


def test_queries_with_invalid_utf8_and_nul_bytes_still_search(repo: Path) -> None:
    assert runner.invoke(app, ["index", "--project", str(repo), "--json"]).exit_code == 0
    raw = b"\xff\xfe pasted log \x00 with Calculator total"
    result = runner.invoke(app, ["search", "-", "--project", str(repo), "--json"], input=raw)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "\x00" not in data["query"] and any(r["symbol"] == "Calculator.total" for r in data["results"])
    result = runner.invoke(app, ["context", "-", "--project", str(repo), "--budget", "200", "--json"], input=raw)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tokens"] <= 200
