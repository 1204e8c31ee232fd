"""Every command in docs/production/backups.md runs as written (paths moved under tmp_path)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.config import Settings
from prism.engine import Prism
from prism.serve.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "production" / "backups.md"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "repos" / "shop"


def doc_commands() -> list[str]:
    """The `prism …` lines of the bash blocks, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_every_command_in_the_backups_doc_runs(tmp_path: Path, prism_home: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURE, root)
    Prism(root, settings=Settings()).index()
    backups, restored_home = tmp_path / "backups", tmp_path / "srv-prism"
    runner = CliRunner()
    commands = doc_commands()
    assert len(commands) >= 8
    latest = ""
    for line in commands:
        line = line.replace("/var/backups/prism", str(backups)).replace("/srv/prism", str(restored_home))
        if latest:
            line = re.sub(r"prism-backup-\d{8}T\d{6}Z", latest, line)
        words = shlex.split(line)
        env = {}
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        assert words[0] == "prism", line
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            answer = runner.invoke(app, words[1:])
        assert answer.exit_code == 0, f"{line}\n{answer.stdout}\n{answer.stderr}"
        if words[1:2] == ["backup"] and "verify" not in words:
            latest = Path(answer.stdout.strip()).name
    assert (restored_home / "projects").is_dir()
    assert json.loads((backups / latest / "manifest.json").read_text())["projects"]
