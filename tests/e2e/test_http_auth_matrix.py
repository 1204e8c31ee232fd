"""The auth matrix: every route × every kind of credential, global and project-scoped.

ROUTES below is the route table written out by hand — what each route needs and how far it
reaches — so a new route fails here until it has an entry, and a route whose declared need
drifts from the table fails too. Each route is called with: no credential, an expired key, an
expired JWT, a revoked key, a key for another project, and, both for every project and scoped
to PROJECT, each role preset, a key with each single action, and a JWT admin. The expected
answer is computed from the rules, not read from the code: the action must be held; a
`{project}` must be in scope; a server-wide route needs a credential for every project; a route
that makes or changes a credential needs one that covers it (the escalation paths of issue 10,
defect 1: a scoped admin minting `projects: ["*"]`, rotating or revoking a greater key).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prism.config import Settings
from prism.errors import ProjectError
from prism.serve.http.app import OPENAPI_URL, create_app
from prism.serve.http.auth import api_routes, check_route_table, other_routes, route_permission, route_reach
from prism.serve.http.scopes import ACTIONS, ADMINISTRATION, ROLE_ACTIONS, Scope
from prism.serve.http.settings import ROLES, ServerSettings
from prism.serve.http.state import ServerState

API_SECRET = "matrix-api-Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e"  # production refuses weak secrets
JWT_SECRET = "matrix-jwt-pA7dK2mN9qR4sT6vW8xY3zB5cE7gH1"
PROJECT = "alpha"
READER = Scope(ROLE_ACTIONS["reader"], ("*",), None)
ADMIN = Scope(ROLE_ACTIONS["admin"], ("*",), None)

# (method, path) → (need, reach); reach: project ({project} checked), server (every project), own.
ROUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/health"): ("public", "server"),
    ("GET", "/ready"): ("public", "server"),
    ("GET", "/api/v1/projects"): ("projects.read", "own"),
    ("POST", "/api/v1/projects"): ("projects.manage", "server"),
    ("GET", "/api/v1/projects/{project}"): ("projects.read", "project"),
    ("DELETE", "/api/v1/projects/{project}"): ("projects.manage", "project"),
    ("POST", "/api/v1/projects/{project}/index"): ("index.write", "project"),
    ("GET", "/api/v1/projects/{project}/stats"): ("projects.read", "project"),
    ("POST", "/api/v1/projects/{project}/search"): ("search", "project"),
    ("POST", "/api/v1/projects/{project}/context"): ("context", "project"),
    ("POST", "/api/v1/projects/{project}/ask"): ("ask", "project"),
    ("GET", "/api/v1/projects/{project}/code"): ("code.read", "project"),
    ("POST", "/api/v1/projects/{project}/jobs"): ("index.write", "project"),
    ("GET", "/api/v1/projects/{project}/jobs/{job_id}"): ("projects.read", "project"),
    ("GET", "/api/v1/jobs/{job_id}"): ("projects.read", "own"),  # another project's job is a 404
    ("GET", "/api/v1/usage"): ("authenticated", "own"),
    ("GET", "/api/v1/usage/quotas"): ("usage.read", "server"),
    ("GET", "/api/v1/keys"): ("keys.manage", "server"),
    ("POST", "/api/v1/keys"): ("keys.manage", "server"),
    ("PATCH", "/api/v1/keys/{key_id}"): ("keys.manage", "server"),
    ("DELETE", "/api/v1/keys/{key_id}"): ("keys.manage", "server"),
    ("POST", "/api/v1/keys/{key_id}/rotate"): ("keys.manage", "server"),
    ("POST", "/api/v1/tokens/revoke"): ("keys.manage", "server"),
    ("GET", "/api/v1/audit"): ("audit.read", "server"),
    ("GET", "/metrics"): ("metrics.read", "server"),
    ("GET", "/dashboard"): ("public", "server"),  # the page and its files hold no data
    ("GET", "/dashboard/static/{name}"): ("public", "server"),
    ("GET", "/api/v1/dashboard"): ("usage.read", "server"),
}


@dataclass(frozen=True)
class Variant:
    """One way to call a route: a body, and for key routes the rights of the key it acts on."""

    body: Any = None
    target: Scope | None = None  # the credential the call makes or changes (None: not a key route)
    own_expiry: bool = False  # the target's expiry is the caller's own


_VICTIMS = (Variant(target=READER), Variant(target=ADMIN))
VARIANTS: dict[tuple[str, str], tuple[Variant, ...]] = {
    ("POST", "/api/v1/keys"): (Variant({"name": "made", "role": "reader"}, READER),
                               Variant({"name": "made", "role": "admin", "projects": ["*"]}, ADMIN),
                               Variant({"name": "made", "role": "reader", "projects": [PROJECT]},
                                       Scope(ROLE_ACTIONS["reader"], (PROJECT,), None))),
    ("PATCH", "/api/v1/keys/{key_id}"): tuple(Variant({"description": "mine"}, v.target) for v in _VICTIMS),
    ("DELETE", "/api/v1/keys/{key_id}"): _VICTIMS,
    ("POST", "/api/v1/keys/{key_id}/rotate"): _VICTIMS,
    # a token's rights are unknown: every action on every project is needed (the caller's expiry is no bar)
    ("POST", "/api/v1/tokens/revoke"): (Variant({"jti": "some-token"}, Scope(ADMINISTRATION, ("*",), None),
                                                own_expiry=True),),
}


@dataclass(frozen=True)
class Credential:
    token: str
    scope: Scope


def _jwt(exp: float, projects: list[str] | str) -> str:
    return jwt.encode({"sub": "ops", "aud": "prism", "exp": int(exp), "role": "admin", "projects": projects},
                      JWT_SECRET, algorithm="HS256")


def build(home: Path) -> tuple[FastAPI, dict[str, Credential], dict[str, str]]:
    """An app with project alpha; credentials that should get in somewhere, and ones that never should."""
    server = ServerSettings(api_secret=API_SECRET, jwt_secret=JWT_SECRET, environment="production",
                            cors_origins=["https://prism.example"],
                            rate_reader="100000/1", rate_writer="100000/1", rate_admin="100000/1")
    app = create_app(server, Settings(home=home, embedder="hashing"), load_model=False)
    state: ServerState = app.state.prism
    state.projects.create(PROJECT)
    creds: dict[str, Credential] = {}
    exp = time.time() + 300
    for reach, projects in (("global", ("*",)), ("scoped", (PROJECT,))):
        sets = {**{role: ROLE_ACTIONS[role] for role in ROLES}, **{a: frozenset({a}) for a in ACTIONS}}
        for name, actions in sets.items():
            key, secret = state.keys.create(f"{reach} {name}", None, projects, actions=actions)
            creds[f"{reach}:{name}"] = Credential(secret, key.scope)
        creds[f"{reach}:jwt admin"] = Credential(_jwt(exp, list(projects)), Scope(ROLE_ACTIONS["admin"], projects, exp))
    other, secret = state.keys.create("other project", "admin", ("other",))
    creds["other project admin"] = Credential(secret, other.scope)
    never: dict[str, str] = {}
    revoked, never["revoked"] = state.keys.create("revoked", "admin")
    state.keys.revoke(revoked.key_id)
    expired, never["expired_key"] = state.keys.create("expired", "admin", expires_at=time.time() + 60)
    state.db.execute("UPDATE api_keys SET expires_at = ? WHERE key_id = ?", (time.time() - 1, expired.key_id))
    never["expired_jwt"] = _jwt(time.time() - 120, "*")
    return app, creds, never


def declared_operations() -> list[tuple[str, str]]:
    app, _, _ = build(Path(tempfile.mkdtemp(prefix="prism-matrix-")))
    return sorted((method, path) for path, methods, _ in api_routes(app) for method in methods)


def expected_allowed(operation: tuple[str, str], variant: Variant, cred: Scope) -> bool:
    """The rules, from the outside: action held, project in scope, server-wide needs '*', cover the target."""
    need, reach = ROUTES[operation]
    if need != "authenticated" and need not in cred.actions:
        return False
    if reach == "project" and not cred.allows_project(PROJECT):
        return False
    if reach == "server" and not cred.unscoped:
        return False
    if variant.target is None:
        return True
    target = variant.target
    if variant.own_expiry:
        target = Scope(target.actions, target.projects, cred.expires_at)
    return cred.shortfall(target) is None


def call(app: FastAPI, client: TestClient, operation: tuple[str, str], variant: Variant, token: str | None) -> Any:
    """One request, with the state it acts on made fresh: the project exists, and a new victim key."""
    state: ServerState = app.state.prism
    try:
        state.projects.get(PROJECT)
    except ProjectError:
        state.projects.create(PROJECT)
    method, path = operation
    url = path.replace("{project}", PROJECT).replace("{job_id}", "0" * 32)  # an unknown job: 404 once let in
    if "{key_id}" in path and variant.target is not None:
        victim, _ = state.keys.create("victim", None, variant.target.projects, variant.target.expires_at,
                                      actions=variant.target.actions)
        url = url.replace("{key_id}", victim.key_id)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = variant.body if variant.body is not None else ({} if method in ("POST", "PATCH") else None)
    return client.request(method, url, headers=headers, json=body)


def test_every_route_is_in_the_matrix_with_the_need_it_declares(prism_home: Path) -> None:
    app, _, _ = build(prism_home)
    declared = {(method, path): (route_permission(route), route_reach(route) or "server")
                for path, methods, route in api_routes(app) for method in methods}
    assert set(declared) == set(ROUTES), "add each new route to ROUTES (and VARIANTS if it acts on a key)"
    for operation, (need, reach) in ROUTES.items():
        assert declared[operation][0] == need, operation
        if need != "public":
            assert declared[operation][1] == reach, operation
    assert other_routes(app) == [OPENAPI_URL]  # the only route without a permission is the schema


def test_a_route_without_a_permission_refuses_to_start(prism_home: Path) -> None:
    app, _, _ = build(prism_home)

    @app.get("/api/v1/leak")
    def leak() -> dict[str, str]:
        return {"secret": "x"}

    with pytest.raises(RuntimeError, match="/api/v1/leak"):
        check_route_table(app)


@pytest.mark.parametrize("operation", declared_operations(), ids=lambda op: f"{op[0]} {op[1]}")
def test_auth_matrix(prism_home: Path, operation: tuple[str, str]) -> None:
    app, creds, never = build(prism_home)
    client = TestClient(app)
    variants = VARIANTS.get(operation, (Variant(),))
    if ROUTES[operation][0] == "public":
        assert call(app, client, operation, variants[0], None).status_code not in (401, 403)
        return
    for case, token, code in (("none", None, "unauthenticated"), ("revoked", never["revoked"], "key_revoked"),
                              ("expired key", never["expired_key"], "credentials_expired"),
                              ("expired jwt", never["expired_jwt"], "credentials_expired")):
        response = call(app, client, operation, variants[0], token)
        assert response.status_code == 401, (case, response.text)
        assert response.json()["error"]["code"] == code, case
    checked = 0
    for name, cred in creds.items():
        for variant in variants:
            response = call(app, client, operation, variant, cred.token)
            if expected_allowed(operation, variant, cred.scope):
                assert response.status_code not in (401, 403), (name, variant, response.text)
                checked += 1
            else:
                assert response.status_code == 403, (name, variant, response.text)
                assert response.json()["error"]["code"] == "forbidden", (name, variant)
    assert checked, "no credential was allowed: the matrix would prove nothing"
