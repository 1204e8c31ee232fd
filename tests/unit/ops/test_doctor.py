"""`prism doctor`: each check with its status and, when something is wrong, the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.serve.cli import app
from prism.serve.secrets import load_or_create_dev_secret


def run_doctor(*args: str) -> tuple[int, dict[str, object]]:
    answer = CliRunner().invoke(app, ["doctor", "--json", *args])
    return answer.exit_code, json.loads(answer.stdout)


def checks_of(report: dict[str, object]) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in report["checks"]}  # type: ignore[attr-defined]


def test_a_fresh_home_is_healthy_with_development_warnings(prism_home: Path) -> None:
    code, report = run_doctor()
    checks = checks_of(report)
    assert code == 0 and report["status"] == "warn"
    for name in ("settings", "server settings", "secrets", "model", "disk", "python", "sqlite", "dependencies"):
        assert name in checks
    assert checks["secrets"]["status"] == "warn" and "API_SECRET" in checks["secrets"]["fix"]
    assert checks["model"]["status"] == "ok" and checks["sqlite"]["status"] == "ok"


def test_a_world_readable_secret_and_a_corrupt_index_fail_with_their_fix(
        prism_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_SECRET", "x" * 40)
    load_or_create_dev_secret(prism_home / "server")
    (prism_home / "server" / "dev-secret").chmod(0o644)
    broken = prism_home / "projects" / "broken-0123456789ab"
    broken.mkdir(parents=True)
    (broken / "index.db").write_bytes(b"this is not a database" * 100)

    code, report = run_doctor("--no-model")
    checks = checks_of(report)
    assert code == 1 and report["status"] == "fail"
    assert checks["secrets"]["status"] == "ok"
    secret = checks["dev secret file"]
    assert secret["status"] == "fail" and secret["fix"] == f"chmod 600 {prism_home / 'server' / 'dev-secret'}"
    index = checks["index projects/broken-0123456789ab"]
    assert index["status"] == "fail" and "prism restore" in index["fix"]
    assert "model" not in checks


def test_production_without_a_secret_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    code, report = run_doctor("--no-model")
    checks = checks_of(report)
    assert code == 1
    assert checks["server settings"]["status"] == "fail" and "API_SECRET" in checks["server settings"]["detail"]
    assert checks["secrets"]["status"] == "fail"
