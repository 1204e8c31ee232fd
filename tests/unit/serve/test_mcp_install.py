"""Unit tests for prism.serve.mcp_install and `prism mcp install`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.errors import ConfigError
from prism.serve.cli import app
from prism.serve.mcp_install import claude_add_line, mcp_json_entry, write_mcp_json

CMD = ["/opt/prism/bin/prism", "mcp"]


def test_claude_add_line_is_exact() -> None:
    assert claude_add_line("user", CMD) == (
        "claude mcp add --transport stdio --scope user prism -- /opt/prism/bin/prism mcp")
    assert "--env PRISM_EMBEDDER=hashing" in claude_add_line("project", CMD, {"PRISM_EMBEDDER": "hashing"})
    assert "'/my dir/prism'" in claude_add_line("user", ["/my dir/prism", "mcp"])


def test_write_mcp_json_keeps_other_servers(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}}))
    path = write_mcp_json(tmp_path, CMD)
    data = json.loads(path.read_text())
    assert data["mcpServers"]["other"] == {"command": "x"}
    assert data["mcpServers"]["prism"] == {"type": "stdio", "command": CMD[0], "args": ["mcp"]}
    assert mcp_json_entry(CMD, {"A": "1"})["env"] == {"A": "1"}


def test_write_mcp_json_refuses_broken_json(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_text("{nope")
    with pytest.raises(ConfigError) as info:
        write_mcp_json(tmp_path, CMD)
    assert "not valid JSON" in info.value.message and "--write" in info.value.hint


def test_cli_install_project_scope_writes_a_portable_mcp_json_and_no_add_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_HOME", str(tmp_path / "home"))
    repo = tmp_path / "repo"
    repo.mkdir()
    result = CliRunner().invoke(app, ["mcp", "install", "--scope", "project", "--write", "--project", str(repo)])
    assert result.exit_code == 0, result.output
    # the shared file names `prism` on PATH, not this machine's virtualenv
    written = json.loads((repo / ".mcp.json").read_text())
    assert written["mcpServers"]["prism"] == {"type": "stdio", "command": "prism", "args": ["mcp"]}
    assert "claude mcp add" not in result.stdout  # it would write the same file a second time
    assert "every project you open" not in result.stderr  # that is the user-scope message
    assert ".mcp.json as `prism mcp`" in result.stderr and "PATH" in result.stderr
    data = json.loads(CliRunner().invoke(app, ["mcp", "install", "--scope", "project", "--project",
                                               str(repo), "--json"]).stdout)
    assert data["command"] is None and data["entry"]["command"] == "prism"


def test_cli_install_user_scope_prints_the_add_line_with_this_prism(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["mcp", "install", "--json"])
    data = json.loads(result.stdout)
    assert data["command"].startswith("claude mcp add --transport stdio --scope user prism -- ")
    assert data["command"].endswith(" mcp") and data["mcp_json"] is None
    result = CliRunner().invoke(app, ["mcp", "install", "--scope", "user", "--write", "--project", str(tmp_path)])
    assert "every project you open" in result.stderr
    assert json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["prism"]["command"] == "prism"


def test_cli_install_rejects_unknown_scope() -> None:
    result = CliRunner().invoke(app, ["mcp", "install", "--scope", "galaxy"])
    assert result.exit_code == 2
    assert "scope" in result.stderr
