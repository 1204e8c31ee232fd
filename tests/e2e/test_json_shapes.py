"""docs/cli.md documents every `--json` shape: each command's real output has exactly the
documented fields (nested ones too), of the documented types, with schema_version first."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.serve.cli import app

DOCS = Path(__file__).parents[2] / "docs" / "cli.md"
TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "number": (int, float), "string": (str,), "bool": (bool,), "array": (list,),
    "object": (dict,), "null": (type(None),),
}
runner = CliRunner()


def documented() -> dict[str, dict[str, tuple[str, bool]]]:
    """Section title → field path → (type, may be absent), read from docs/cli.md."""
    text = DOCS.read_text(encoding="utf-8").split("## JSON output", 1)[1]
    shapes: dict[str, dict[str, tuple[str, bool]]] = {}
    current: dict[str, tuple[str, bool]] = {}
    for line in text.splitlines():
        title = re.match(r"### (?:`prism (.+) --json`|(Errors))$", line)
        if title:
            current = shapes.setdefault(title.group(1) or "error", {})
            continue
        row = re.match(r"\| `([^`]+)` \| ([^|]+) \|", line)
        if row:
            kind = row.group(2).strip()
            current[row.group(1)] = (kind.rstrip("?"), kind.endswith("?"))
    return shapes


def check(doc: dict[str, object], shape: dict[str, tuple[str, bool]]) -> None:
    assert next(iter(doc)) == "schema_version" and doc["schema_version"] == 1
    actual: dict[str, object] = {}
    for key, value in doc.items():
        actual[key] = value
        nested = [f for f in shape if f.startswith((f"{key}.", f"{key}[]."))]
        if nested and isinstance(value, dict):
            actual.update({f"{key}.{k}": v for k, v in value.items()})
        if nested and isinstance(value, list):
            assert value, f"{key} is empty: the test cannot check its items"
            actual.update({f"{key}[].{k}": v for item in value for k, v in item.items()})
    required = {f for f, (_, optional) in shape.items() if not optional}
    assert required <= set(actual), f"documented but missing: {sorted(required - set(actual))}"
    assert set(actual) <= set(shape), f"undocumented: {sorted(set(actual) - set(shape))}"
    for field, value in actual.items():
        kinds = tuple(t for name in shape[field][0].split(" or ") for t in TYPES[name])
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        assert ok, f"{field}: {value!r} is not {shape[field][0]}"


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
    check(run("show", "src/calc.py:1-3", *project), shapes["show"])
    check(run("stats", *project), shapes["stats"])
    check(run("mcp", "install", *project), shapes["mcp install"])
    created = run("keys", "create", "--name", "ci", "--role", "reader")
    check(created, shapes["keys create"])
    key_id = str(created["key"]["key_id"])  # type: ignore[index]
    check(run("keys", "list"), shapes["keys list"])
    check(run("keys", "rotate", key_id), shapes["keys rotate"])
    check(run("keys", "revoke", key_id), shapes["keys revoke"])
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
