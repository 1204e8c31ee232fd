"""Every `prism …` command in docs/production/*.md runs as written (paths moved under tmp_path), the
files the docs show are the committed ones under deploy/, and the README's quota table is its JSON.

A command is a line of a bash/sh/shell/console block whose first word, after `NAME=value`
assignments, is `prism`. `prism serve` is started for real on a free port and must answer
/health; every other command runs in-process (typer's CliRunner) and must exit 0. Each doc runs
in a fresh home holding an indexed project and one backup (what a deployment has after its first
night).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from prism.config import Settings
from prism.engine import Prism
from prism.ops.quotas import parse_quotas
from prism.serve.cli import app
from services import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs" / "production").glob("*.md"))
FIXTURE = ROOT / "tests" / "fixtures" / "repos" / "shop"
SHELLS = {"bash", "sh", "shell", "console"}
API_SECRET = "docs-secret-" + "Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e"
SERVE_START_S = 90.0


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


def doc_commands(doc: Path) -> list[str]:
    """The `prism …` command lines of a doc's shell blocks (comments and `$ ` prompts dropped)."""
    found = []
    for language, body in code_blocks(doc.read_text(encoding="utf-8")):
        if language not in SHELLS:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip().removeprefix("$ ")
            if line and not line.startswith("#") and is_prism(shlex.split(line)):
                found.append(line)
    return found


def is_prism(words: list[str]) -> bool:
    rest = [w for w in words if not re.match(r"^[A-Z_][A-Z0-9_]*=", w)] if words else []
    return bool(rest) and (rest[0] == "prism" or rest[0].endswith("/bin/prism"))


@dataclass
class DocEnvironment:
    """A home with an indexed project and a backup; where the docs' paths point; the env the commands get."""

    tmp: Path
    home: Path
    backups: Path
    env: dict[str, str]
    latest: str = ""
    served: list[str] = field(default_factory=list)

    def substitute(self, line: str) -> str:
        for path, here in (("/var/backups/prism", self.backups), ("/srv/prism", self.tmp / "srv-prism"),
                           ("/var/lib/prism", self.home)):
            line = line.replace(path, str(here))
        return re.sub(r"prism-backup-\d{8}T\d{6}Z", self.latest, line) if self.latest else line

    def run(self, line: str) -> None:
        words = shlex.split(self.substitute(line))
        env = dict(self.env)
        while "=" in words[0] and not words[0].startswith(("/", "prism")):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        args = words[1:]
        if args[:1] == ["serve"]:
            self.serve(args, env)
            return
        answer = CliRunner().invoke(app, args, env=env)
        assert answer.exit_code == 0, f"{line}\n{answer.stdout}\n{answer.stderr}"
        if args[:1] == ["backup"] and "verify" not in args:
            self.latest = Path(answer.stdout.strip().splitlines()[-1]).name

    def serve(self, args: list[str], env: dict[str, str]) -> None:
        """`prism serve …` for real, on a free loopback port: it must answer /health, then stop on SIGTERM."""
        port = free_port()
        args = [*args]
        for option, value in (("--port", str(port)), ("--host", "127.0.0.1")):
            if option in args:
                args[args.index(option) + 1] = value
            else:
                args += [option, value]
        log = self.tmp / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "prism", *args], env={**os.environ, **env},
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + SERVE_START_S
            while True:
                assert proc.poll() is None, f"prism {' '.join(args)} exited:\n{log.read_text()[-3000:]}"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"no /health within {SERVE_START_S} s:\n{log.read_text()[-3000:]}"
                time.sleep(0.2)
            self.served.append(" ".join(args))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def readme_quotas() -> str:
    readme = (ROOT / "docs" / "production" / "README.md").read_text(encoding="utf-8")
    return next(body for language, body in code_blocks(readme) if language == "json")


@pytest.fixture
def doc_env(tmp_path: Path) -> DocEnvironment:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURE, root)
    home = tmp_path / "home"
    env = {"PRISM_HOME": str(home), "PRISM_EMBEDDER": "hashing", "PRISM_API_SECRET": API_SECRET,
           "PRISM_QUOTAS": readme_quotas(), "PRISM_ENVIRONMENT": "development"}
    Prism(root, settings=Settings(home=home, embedder="hashing")).index()
    here = DocEnvironment(tmp_path, home, tmp_path / "backups", env)
    here.run("prism backup /var/backups/prism")  # last night's
    return here


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_prism_command_in_the_production_docs_runs(doc: Path, doc_env: DocEnvironment) -> None:
    commands = doc_commands(doc)
    for line in commands:
        doc_env.run(line)
    if doc.name == "deployment.md":
        assert doc_env.served, "the deployment doc starts the server"
        assert (doc_env.home / "projects").is_dir()


def test_the_commands_found_are_the_ones_written() -> None:
    found = {doc.name: doc_commands(doc) for doc in DOCS}
    assert "prism backup /var/backups/prism --keep-daily 7 --keep-weekly 4" in found["backups.md"]
    assert "PRISM_HOME=/srv/prism prism restore /var/backups/prism/prism-backup-20261201T020000Z" in found["backups.md"]
    assert "prism serve --host 127.0.0.1 --port 8765 --workers 2" in found["deployment.md"]
    assert "prism maintain --monthly --backups /var/backups/prism" in found["maintenance.md"]
    assert sum(len(c) for c in found.values()) >= 25
    # PRISM run some other way would escape the test: never through sudo/su, and what a container
    # runs (`podman exec NAME prism …`) must be a command run here from another line.
    run_here = {" ".join(shlex.split(c)[1:]) for commands in found.values() for c in commands
                if shlex.split(c)[0] == "prism"}
    for doc in DOCS:
        for language, body in code_blocks(doc.read_text(encoding="utf-8")):
            for line in body.splitlines() if language in SHELLS else ():
                words = line.split("  #")[0].split()
                assert not (words[:1] in (["sudo"], ["su"], ["runuser"]) and "prism" in words), f"{doc.name}: {line}"
                if words[:2] in (["podman", "exec"], ["docker", "exec"]) and words[3:4] == ["prism"]:
                    assert " ".join(words[4:]) in run_here, f"{doc.name}: {line} is run nowhere"


def test_the_files_the_docs_show_are_the_committed_ones() -> None:
    shown = 0
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in re.finditer(r"<!-- file: (\S+) -->\n```\w*\n(.*?)^```", text, flags=re.S | re.M):
            path, body = match.groups()
            assert (ROOT / path).read_text(encoding="utf-8") == body, f"{doc.name} shows an old {path}"
            shown += 1
    assert shown >= 10


def test_the_readme_quota_table_is_its_prism_quotas_json() -> None:
    readme = (ROOT / "docs" / "production" / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Quotas"):readme.index("## Performance targets")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| Resource")]
    quotas = parse_quotas(readme_quotas())
    assert len(rows) == len(quotas) == 7
    for (resource, per, limit, target, alert), quota in zip(rows, quotas, strict=True):
        assert (resource, per, int(limit), int(target)) == (quota.resource, quota.per, quota.limit, quota.target)
        assert quota.alert_at == quota.limit * int(alert.rstrip("%")) // 100
    assert json.loads(readme_quotas())  # and plain JSON, for PRISM_QUOTAS
