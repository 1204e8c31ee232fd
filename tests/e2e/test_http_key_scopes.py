"""Keys scoped by action × project × expiry over HTTP: the escalation paths of a scoped key, the last
admin key, editing keys, the JWT lifetime cap and deny list, and the audit log of it all.

Each test replays an attack from the security probe (issue 10) and shows it refused.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from prism.config import Settings
from prism.serve.http.app import create_app
from prism.serve.http.settings import ServerSettings

API_SECRET = "api-secret-" + "a" * 40
JWT_SECRET = "jwt-secret-" + "b" * 40


class Server:
    """An app with projects `up` and `down`, a root admin key and a client."""

    def __init__(self, home: Path, tmp: Path, **settings: Any) -> None:
        values: dict[str, Any] = {"api_secret": API_SECRET, "jwt_secret": JWT_SECRET, "allowed_roots": [tmp],
                                  "rate_admin": "100000/1", "rate_reader": "100000/1", "rate_writer": "100000/1"}
        values.update(settings)
        self.app = create_app(ServerSettings(**values), Settings(home=home, embedder="hashing"), load_model=False)
        self.state = self.app.state.prism
        for name in ("up", "down"):
            self.state.projects.create(name)
        self.root_id, self.root = self.key("root", role="admin")
        self.client = TestClient(self.app)

    def key(self, name: str, role: str | None = None, projects: tuple[str, ...] = ("*",),
            actions: frozenset[str] | None = None, expires_at: float | None = None) -> tuple[str, str]:
        key, secret = self.state.keys.create(name, role, projects, expires_at, actions=actions)
        return key.key_id, secret

    @staticmethod
    def key_id_of(secret: str) -> str:
        return secret.split("_")[1]

    def call(self, token: str, method: str, url: str, body: Any = None) -> Any:
        return self.client.request(method, url, headers={"Authorization": f"Bearer {token}"}, json=body)


@pytest.fixture
def server(prism_home: Path, tmp_path: Path) -> Server:
    return Server(prism_home, tmp_path)


def refused(response: Any, status: int = 403, code: str = "forbidden") -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def token(**claims: Any) -> str:
    base: dict[str, Any] = {"sub": "ops@example.com", "aud": "prism", "exp": int(time.time()) + 300,
                            "role": "admin", "projects": "*"}
    base.update(claims)
    return jwt.encode(base, JWT_SECRET, algorithm="HS256")


def test_a_project_scoped_admin_key_cannot_escape_its_project(server: Server, tmp_path: Path) -> None:
    """Defect 1: `--role admin --project up` minted an unscoped admin key, took over other keys,
    read every principal's usage and the metrics, and created server-path projects."""
    _, scoped = server.key("scoped admin", role="admin", projects=("up",))
    victim_id, victim = server.key("victim", role="reader")
    server.call(victim, "GET", "/api/v1/projects")  # the victim has usage of its own
    for body in ({"name": "x", "role": "admin", "projects": ["*"]}, {"name": "x", "role": "reader",
                                                                      "projects": ["up"]}):
        refused(server.call(scoped, "POST", "/api/v1/keys", body))
    refused(server.call(scoped, "POST", f"/api/v1/keys/{victim_id}/rotate"))
    refused(server.call(scoped, "DELETE", f"/api/v1/keys/{victim_id}"))
    refused(server.call(scoped, "PATCH", f"/api/v1/keys/{victim_id}", {"expires_days": 0.01}))
    refused(server.call(scoped, "GET", "/api/v1/keys"))
    refused(server.call(scoped, "GET", "/metrics"))
    refused(server.call(scoped, "GET", "/api/v1/audit"))
    refused(server.call(scoped, "POST", "/api/v1/tokens/revoke", {"jti": "someone"}))
    (tmp_path / "repo").mkdir()
    refused(server.call(scoped, "POST", "/api/v1/projects", {"name": "repo", "path": str(tmp_path / "repo")}))
    refused(server.call(scoped, "POST", "/api/v1/projects", {"name": "new"}))
    refused(server.call(scoped, "DELETE", "/api/v1/projects/down"))
    usage = server.call(scoped, "GET", "/api/v1/usage").json()["usage"]
    assert usage and {row["principal"] for row in usage} == {f"key:{server.key_id_of(scoped)}"}
    # nothing changed: the victim still works, no key was made
    assert server.call(victim, "GET", "/api/v1/projects").status_code == 200
    assert len(server.state.keys.all()) == 3
    # inside its project it is still an admin
    assert server.call(scoped, "GET", "/api/v1/projects").json()["projects"][0]["name"] == "up"
    assert server.call(scoped, "POST", "/api/v1/projects/up/index", {}).status_code == 200
    assert server.call(scoped, "DELETE", "/api/v1/projects/up").status_code == 200


def test_an_unscoped_key_manages_only_keys_within_its_own_rights(server: Server) -> None:
    """A key with keys.manage but fewer actions, or an expiry, cannot mint or take over a greater key."""
    manager_actions = frozenset({"keys.manage", "projects.read", "search", "context", "code.read", "index.write"})
    _, manager = server.key("manager", actions=manager_actions, expires_at=time.time() + 3600)
    refused(server.call(manager, "POST", "/api/v1/keys", {"name": "x", "role": "admin", "expires_days": 0.01}))
    refused(server.call(manager, "POST", "/api/v1/keys", {"name": "x", "role": "reader"}))  # outlives it
    refused(server.call(manager, "POST", "/api/v1/keys", {"name": "x", "role": "reader", "expires_days": 2}))
    made = server.call(manager, "POST", "/api/v1/keys", {"name": "x", "actions": ["search"], "expires_days": 0.01})
    assert made.status_code == 201 and made.json()["key"]["actions"] == ["search"]
    refused(server.call(manager, "POST", f"/api/v1/keys/{server.root_id}/rotate"))
    refused(server.call(manager, "DELETE", f"/api/v1/keys/{server.root_id}"))
    refused(server.call(manager, "PATCH", f"/api/v1/keys/{server.root_id}", {"name": "mine now"}))
    own_id = server.key_id_of(manager)
    refused(server.call(manager, "PATCH", f"/api/v1/keys/{own_id}", {"expires_days": None}))  # no self-extension
    refused(server.call(manager, "POST", "/api/v1/tokens/revoke", {"jti": "admin-token"}))
    assert server.call(server.root, "GET", "/api/v1/keys").status_code == 200  # root untouched
    # a JWT admin lives 5 minutes, so the keys it makes must not outlive it
    refused(server.call(token(), "POST", "/api/v1/keys", {"name": "x", "role": "reader"}))
    assert server.call(token(), "POST", "/api/v1/keys",
                       {"name": "x", "role": "reader", "expires_days": 0.001}).status_code == 201


def test_the_last_admin_key_cannot_lock_every_admin_out(server: Server) -> None:
    """Defect 6: the fuzzer revoked (and rotated) its own, only, admin key."""
    for method, url in (("DELETE", f"/api/v1/keys/{server.root_id}"),
                        ("POST", f"/api/v1/keys/{server.root_id}/rotate")):
        response = server.call(server.root, method, url)
        refused(response, 409, "conflict")
        assert "last active admin key" in response.json()["error"]["message"]
    assert server.call(server.root, "GET", "/api/v1/keys").status_code == 200
    other = server.call(server.root, "POST", "/api/v1/keys", {"name": "second", "role": "admin"}).json()
    assert server.call(server.root, "DELETE", f"/api/v1/keys/{server.root_id}").status_code == 200
    refused(server.call(other["api_key"], "DELETE", f"/api/v1/keys/{other['key']['key_id']}"), 409, "conflict")


def test_a_key_is_edited_without_changing_its_secret(server: Server) -> None:
    key_id, secret = server.key("bot", role="reader")
    response = server.call(server.root, "PATCH", f"/api/v1/keys/{key_id}",
                           {"name": "ci bot", "description": "nightly build", "expires_days": 7})
    edited = response.json()
    assert response.status_code == 200 and "api_key" not in edited
    assert (edited["name"], edited["description"], edited["actions"]) == (
        "ci bot", "nightly build", ["projects.read", "search", "context", "code.read"])
    assert 6.9 * 86400 < edited["expires_at"] - time.time() <= 7 * 86400
    assert server.call(secret, "GET", "/api/v1/projects").status_code == 200  # same secret
    cleared = server.call(server.root, "PATCH", f"/api/v1/keys/{key_id}", {"expires_days": None}).json()
    assert cleared["expires_at"] is None and cleared["name"] == "ci bot"
    refused(server.call(server.root, "PATCH", f"/api/v1/keys/{key_id}", {"role": "admin"}), 422, "invalid_input")
    refused(server.call(server.root, "POST", "/api/v1/keys", {"name": "x", "role": "admin", "actions": ["search"]}),
            422, "invalid_input")


def test_jwt_lifetime_is_capped_issue_time_checked_and_ids_revocable(prism_home: Path, tmp_path: Path) -> None:
    """Defect 10: `exp` in year 9999 was accepted, a future `iat` was blamed on nbf, no revocation."""
    server = Server(prism_home, tmp_path, jwt_max_ttl_s=3600)
    far = server.call(token(exp=253402300799), "GET", "/api/v1/projects")  # 9999-12-31
    refused(far, 401, "unauthenticated")
    assert "too far in the future" in far.json()["error"]["message"]
    refused(server.call(token(exp=int(time.time()) + 3700), "GET", "/api/v1/projects"), 401, "unauthenticated")
    early = server.call(token(iat=int(time.time()) + 600), "GET", "/api/v1/projects")
    refused(early, 401, "unauthenticated")
    assert "(iat)" in early.json()["error"]["message"] and "nbf" not in early.json()["error"]["message"]
    stolen, other = token(jti="leaked-1"), token(jti="fine-2")
    assert server.call(stolen, "GET", "/api/v1/projects").status_code == 200
    revoked = server.call(server.root, "POST", "/api/v1/tokens/revoke", {"jti": "leaked-1"}).json()
    assert revoked["jti"] == "leaked-1" and revoked["forget_after"] > time.time() + 3600
    refused(server.call(stolen, "GET", "/api/v1/projects"), 401, "token_revoked")
    assert server.call(token(), "POST", "/api/v1/tokens/revoke", {"jti": "x"}).status_code == 200  # a JWT admin too
    assert server.call(other, "GET", "/api/v1/projects").status_code == 200
    narrow = token(actions=["projects.read"])  # an `actions` claim replaces the role's preset
    assert server.call(narrow, "GET", "/api/v1/projects").status_code == 200
    refused(server.call(narrow, "POST", "/api/v1/projects/up/search", {"query": "x"}))
    refused(server.call(token(actions=["root"]), "GET", "/api/v1/projects"), 401, "unauthenticated")


def test_the_audit_log_records_who_changed_what_from_where(server: Server) -> None:
    root = server.root
    created = server.call(root, "POST", "/api/v1/keys", {"name": "ci", "role": "writer"})
    key_id = created.json()["key"]["key_id"]
    server.call(root, "PATCH", f"/api/v1/keys/{key_id}", {"description": "for CI"})
    rotated = server.call(root, "POST", f"/api/v1/keys/{key_id}/rotate").json()
    server.call(root, "DELETE", f"/api/v1/keys/{rotated['key']['key_id']}")
    server.call(root, "POST", "/api/v1/projects", {"name": "new"})
    server.call(root, "DELETE", "/api/v1/projects/new")
    server.call(root, "POST", "/api/v1/tokens/revoke", {"jti": "t-1"})
    response = server.call(root, "GET", "/api/v1/audit")
    events = response.json()["events"]
    assert [e["event"] for e in events] == ["token.revoke", "project.delete", "project.create", "key.revoke",
                                            "key.rotate", "key.edit", "key.create"]
    assert {e["principal"] for e in events} == {f"key:{server.root_id}"}
    assert {e["address"] for e in events} == {"testclient"}
    assert events[-1]["request_id"] == created.headers["x-request-id"] and events[-1]["target"] == key_id
    assert events[-1]["details"]["actions"] == created.json()["key"]["actions"]
    assert events[4]["details"] == {"replaced_by": rotated["key"]["key_id"]}
    for secret in (created.json()["api_key"], rotated["api_key"], root, API_SECRET):
        assert secret not in response.text
    assert server.call(root, "GET", "/api/v1/audit?limit=2").json()["events"] == events[:2]
    refused(server.call(server.key("reader", role="reader")[1], "GET", "/api/v1/audit"))


def test_an_admin_key_made_before_ask_still_revokes_tokens_but_mints_no_ask(server: Server) -> None:
    """`ask` spends money: an admin key stored before it existed keeps every administrative right
    (revoking a JWT id, the last-admin rule) without gaining the right to spend."""
    from prism.serve.http.scopes import ADMINISTRATION

    _, old_admin = server.key("old-admin", actions=ADMINISTRATION)
    assert server.call(old_admin, "POST", "/api/v1/tokens/revoke", {"jti": "leaked"}).status_code == 200
    refused(server.call(old_admin, "POST", "/api/v1/keys", {"name": "spender", "actions": ["ask"]}))
    _, reader = server.key("reader", role="reader")
    refused(server.call(reader, "POST", "/api/v1/tokens/revoke", {"jti": "leaked"}))
