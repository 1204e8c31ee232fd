"""`prism keys …` and `prism audit`: expiry checked like the API, actions, edit, the last admin, token
revocation, and every change in the audit log as the local operator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from prism.serve.cli import app
from prism.serve.http.audit import AuditLog
from prism.serve.http.db import ServerDB
from prism.serve.http.keys import KeyStore
from prism.serve.secrets import SecretBox, load_or_create_dev_secret

runner = CliRunner()


def prism(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def store(home: Path) -> KeyStore:
    folder = home / "server"
    return KeyStore(ServerDB(folder / "server.db"), SecretBox(load_or_create_dev_secret(folder)))


def test_expires_days_zero_is_refused_not_a_key_that_never_expires(prism_home: Path) -> None:
    """Defect 9: `--expires-days 0` was falsy, so the key never expired (the API refuses 0)."""
    for days in ("0", "-1", "3651"):
        error = prism("keys", "create", "--name", "ci", "--expires-days", days, code=2)["error"]
        assert error["code"] == "invalid_input" and "more than 0" in error["message"]
    assert prism("keys", "list")["keys"] == []
    made = prism("keys", "create", "--name", "ci", "--expires-days", "0.5")["key"]
    assert made["expires_at"] is not None


def test_actions_instead_of_a_role(prism_home: Path) -> None:
    made = prism("keys", "create", "--name", "bot", "--actions", "search,context", "--actions", "code.read")
    assert made["key"]["actions"] == ["search", "context", "code.read"] and made["key"]["role"] == "reader"
    assert store(prism_home).verify(made["api_key"]).actions == {"search", "context", "code.read"}
    assert "admin" in prism("keys", "create", "--name", "x", "--actions", "admin", code=2)["error"]["message"]
    assert prism("keys", "create", "--name", "x", "--role", "admin", "--actions", "search", code=2)


def test_edit_keeps_the_secret(prism_home: Path) -> None:
    made = prism("keys", "create", "--name", "bot")
    key_id = made["key"]["key_id"]
    edited = prism("keys", "edit", key_id, "--name", "ci bot", "--description", "nightly", "--expires-days", "3")
    assert (edited["key"]["name"], edited["key"]["description"]) == ("ci bot", "nightly")
    assert edited["key"]["expires_at"] is not None
    assert prism("keys", "edit", key_id, "--no-expiry")["key"]["expires_at"] is None
    assert store(prism_home).verify(made["api_key"]).name == "ci bot"
    prism("keys", "edit", key_id, code=2)  # nothing to change
    prism("keys", "edit", key_id, "--expires-days", "0", code=2)


def test_the_last_admin_key_stays_and_token_ids_are_revoked(prism_home: Path) -> None:
    admin = prism("keys", "create", "--name", "root", "--role", "admin")["key"]["key_id"]
    error = prism("keys", "revoke", admin, code=1)["error"]
    assert error["code"] == "conflict" and "prism keys create" in error["details"]["hint"]
    prism("keys", "rotate", admin, code=1)
    assert prism("keys", "revoke-token", "leaked-jti")["jti"] == "leaked-jti"
    assert store(prism_home).token_revoked("leaked-jti")


def test_audit_lists_the_operator_s_changes_newest_first(prism_home: Path) -> None:
    made = prism("keys", "create", "--name", "bot")
    prism("keys", "rotate", made["key"]["key_id"])
    events = prism("audit")["events"]
    assert [e["event"] for e in events] == ["key.rotate", "key.create"]
    assert all(e["principal"].startswith("cli:") and e["address"] == "local" for e in events)
    assert made["api_key"] not in json.dumps(events)
    text = runner.invoke(app, ["audit", "--limit", "1"])
    assert text.exit_code == 0 and "key.rotate" in text.stdout and "key.create" not in text.stdout
    assert len(AuditLog(ServerDB(prism_home / "server" / "server.db")).read()) == 2
