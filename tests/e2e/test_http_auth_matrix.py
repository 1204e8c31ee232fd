"""The auth matrix: every route in the app × {no credentials, expired, revoked, wrong project, each role}.

The route list is read from the app itself, so a new endpoint is tested the day it is added,
and one without a declared permission fails here (and refuses to start).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prism.config import Settings
from prism.serve.http.app import OPENAPI_URL, create_app
from prism.serve.http.auth import ROLE_PERMISSIONS, api_routes, check_route_table, other_routes, route_permission
from prism.serve.http.settings import ROLES, ServerSettings

API_SECRET = "matrix-api-Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e"  # production refuses weak secrets
JWT_SECRET = "matrix-jwt-pA7dK2mN9qR4sT6vW8xY3zB5cE7gH1"
PROJECT = "alpha"


def build(home: Path) -> tuple[FastAPI, dict[str, str], str]:
    """An app with project alpha, one key per case, and a victim key for key routes."""
    server = ServerSettings(api_secret=API_SECRET, jwt_secret=JWT_SECRET, environment="production",
                            cors_origins=["https://prism.example"],
                            rate_reader="100000/1", rate_writer="100000/1", rate_admin="100000/1")
    app = create_app(server, Settings(home=home, embedder="hashing"), load_model=False)
    state = app.state.prism
    state.projects.create(PROJECT)
    tokens: dict[str, str] = {role: state.keys.create(role, role)[1] for role in ROLES}
    tokens["wrong_project"] = state.keys.create("scoped", "admin", ("other",))[1]
    revoked, secret = state.keys.create("revoked", "admin")
    state.keys.revoke(revoked.key_id)
    tokens["revoked"] = secret
    expired, secret = state.keys.create("expired", "admin", expires_at=time.time() + 60)
    state.db.execute("UPDATE api_keys SET expires_at = ? WHERE key_id = ?", (time.time() - 1, expired.key_id))
    tokens["expired_key"] = secret
    now = int(time.time())
    tokens["expired_jwt"] = jwt.encode({"sub": "x", "aud": "prism", "exp": now - 120, "role": "admin",
                                        "projects": "*"}, JWT_SECRET, algorithm="HS256")
    victim: str = state.keys.create("victim", "reader")[0].key_id
    return app, tokens, victim


def operations() -> list[tuple[str, str]]:
    app, _, _ = build(Path(_tmp_home()))
    found = [(method, path) for path, methods, _ in api_routes(app) for method in sorted(methods)]
    assert len(found) >= 15
    return found


def _tmp_home() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="prism-matrix-")


def permission_of(app: FastAPI, method: str, path: str) -> str:
    for route_path, methods, route in api_routes(app):
        if route_path == path and method in methods:
            declared = route_permission(route)
            assert declared is not None, f"{method} {path} declares no permission"
            return declared
    raise AssertionError(f"{method} {path} vanished")


def call(client: TestClient, method: str, path: str, victim: str, token: str | None) -> Any:
    url = path.replace("{project}", PROJECT).replace("{key_id}", victim)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.request(method, url, headers=headers, json={} if method in ("POST", "PUT", "PATCH") else None)


def test_every_route_declares_and_enforces_a_permission(prism_home: Path) -> None:
    app, _, _ = build(prism_home)
    routes = list(api_routes(app))
    assert len(routes) >= 15
    for path, _, route in routes:
        assert route_permission(route) is not None, path
    assert other_routes(app) == [OPENAPI_URL]  # the only route without a permission is the schema


def test_a_route_without_a_permission_refuses_to_start(prism_home: Path) -> None:
    app, _, _ = build(prism_home)

    @app.get("/api/v1/leak")
    def leak() -> dict[str, str]:
        return {"secret": "x"}

    with pytest.raises(RuntimeError, match="/api/v1/leak"):
        check_route_table(app)


@pytest.mark.parametrize(("method", "path"), operations())
def test_auth_matrix(prism_home: Path, method: str, path: str) -> None:
    app, tokens, victim = build(prism_home)
    needed = permission_of(app, method, path)
    client = TestClient(app)
    if needed == "public":
        assert call(client, method, path, victim, None).status_code not in (401, 403)
        return
    cases = {"none": (None, 401, "unauthenticated"), "expired_jwt": (tokens["expired_jwt"], 401, "credentials_expired"),
             "expired_key": (tokens["expired_key"], 401, "credentials_expired"),
             "revoked": (tokens["revoked"], 401, "key_revoked")}
    if "{project}" in path:
        cases["wrong_project"] = (tokens["wrong_project"], 403, "forbidden")
    for case, (token, status, code) in cases.items():
        response = call(client, method, path, victim, token)
        assert response.status_code == status, (case, response.text)
        assert response.json()["error"]["code"] == code, case
    # roles last: an allowed admin call may change state (e.g. revoke the victim key)
    for role in ROLES:
        response = call(client, method, path, victim, tokens[role])
        allowed = needed in ROLE_PERMISSIONS[role]
        if allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["error"]["code"] == "forbidden"
