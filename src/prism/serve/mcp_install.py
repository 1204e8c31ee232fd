"""Register `prism mcp` with Claude Code: the exact `claude mcp add` line, or a project `.mcp.json`."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Literal

from prism.errors import ConfigError

Scope = Literal["user", "project", "local"]
SERVER_NAME = "prism"


def prism_command() -> list[str]:
    """The command that starts this PRISM's MCP server, with an absolute path when one is known."""
    found = shutil.which("prism")
    if found:
        return [str(Path(found).resolve()), "mcp"]
    script = Path(sys.argv[0])
    if script.name == "prism" and script.exists():
        return [str(script.resolve()), "mcp"]
    return ["prism", "mcp"]


# What a shared .mcp.json runs: a command every teammate has, not this machine's path.
SHARED_COMMAND = ["prism", "mcp"]


def claude_add_line(scope: Scope = "user", command: list[str] | None = None,
                    env: dict[str, str] | None = None) -> str:
    """The `claude mcp add` command line for this server (user scope: every project you open)."""
    parts = ["claude", "mcp", "add", "--transport", "stdio", "--scope", scope]
    for key, value in sorted((env or {}).items()):
        parts += ["--env", f"{key}={value}"]
    parts += [SERVER_NAME, "--", *(command or prism_command())]
    return shlex.join(parts)


def mcp_json_entry(command: list[str] | None = None, env: dict[str, str] | None = None) -> dict[str, object]:
    cmd = command or prism_command()
    entry: dict[str, object] = {"type": "stdio", "command": cmd[0], "args": cmd[1:]}
    if env:
        entry["env"] = dict(env)
    return entry


def write_mcp_json(project: Path, command: list[str] | None = None,
                   env: dict[str, str] | None = None) -> Path:
    """Add (or replace) the prism entry in `project/.mcp.json`, keeping every other server.

    The file is shared through git, so the default command is `prism mcp` from PATH.
    """
    command = command or SHARED_COMMAND
    path = project / ".mcp.json"
    data: dict[str, object] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8") or "{}")
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc}).",
                              hint="Fix or remove it, then run `prism mcp install --write` again.",
                              value=path) from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} does not hold a JSON object.",
                              hint="Fix or remove it, then run the command again.", value=path)
        data = loaded
    servers = data.get("mcpServers")
    if not isinstance(servers, dict):
        servers = {}
    servers[SERVER_NAME] = mcp_json_entry(command, env)
    data["mcpServers"] = servers
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
