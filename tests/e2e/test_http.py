"""The team HTTP API end to end, in-process: projects, uploads, search, context, limits, headers, secrets."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from prism.config import Settings
from prism.errors import ConfigError
from prism.serve.http.app import create_app
from prism.serve.http.limits import TokenBucketLimiter
from prism.serve.http.settings import ServerSettings

API_SECRET = "api-secret-Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e"  # strong enough for production
JWT_SECRET = "jwt-secret-pA7dK2mN9qR4sT6vW8xY3zB5cE7gH1"
APP_PY = (
    "def refresh_token(user):\n"
    "    '''Refresh the user's access token.'''\n"
    "    return user.token + 1\n\n\n"
    "class Session:\n"
    "    def login(self, name):\n"
    "        return refresh_token(name)\n"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def server_settings(**overrides: Any) -> ServerSettings:
    values: dict[str, Any] = {"api_secret": API_SECRET, "jwt_secret": JWT_SECRET, "environment": "development"}
    values.update(overrides)
    return ServerSettings(**values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app_client(prism_home: Path, clock: FakeClock) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(server_settings(rate_reader="5/10"), Settings(home=prism_home, embedder="hashing"),
                     limiter=TokenBucketLimiter(clock=clock))
    state = app.state.prism
    tokens = {role: state.keys.create(role, role)[1] for role in ("reader", "writer", "admin")}
    with TestClient(app) as client:
        yield client, tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_envelope(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"code", "message", "details"} <= set(error)
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    return error  # type: ignore[no-any-return]


def make_indexed(client: TestClient, admin: str, name: str = "demo") -> dict[str, Any]:
    assert client.post("/api/v1/projects", json={"name": name}, headers=auth(admin)).status_code == 201
    response = client.post(f"/api/v1/projects/{name}/index", headers=auth(admin), json={"files": [
        {"path": "src/app.py", "content": APP_PY},
        {"path": "../escape.py", "content": "x = 1\n"},
        {"path": "/etc/passwd", "content": "x"},
        {"path": "data.bin", "content": "a\x00b"},
        {"path": "big.py", "content": "x" * (1024 * 1024 + 1)},
    ]})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_health_is_public_and_ready_reports_checks(app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = app_client
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True, "checks": {"database": "ok", "model": "ok"}}


def test_ready_is_503_until_the_model_is_loaded(prism_home: Path) -> None:
    app = create_app(server_settings(), Settings(home=prism_home, embedder="hashing"))
    client = TestClient(app)  # no lifespan: the model loader never ran
    error = assert_envelope(client.get("/ready"), 503, "not_ready")
    assert "model=pending" in error["details"]["value"]


def test_upload_index_reports_per_file_failures_and_is_incremental(
        app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = app_client
    data = make_indexed(client, tokens["admin"])
    by_path = {f["path"]: f for f in data["files"]}
    assert by_path["src/app.py"]["status"] == "written"
    assert by_path["../escape.py"]["status"] == "failed" and "`..`" in by_path["../escape.py"]["reason"]
    assert by_path["/etc/passwd"]["status"] == "failed" and "Absolute" in by_path["/etc/passwd"]["reason"]
    assert "NUL" in by_path["data.bin"]["reason"]
    assert "limit" in by_path["big.py"]["reason"]
    assert data["failed"] == 4 and data["report"]["files_indexed"] == 1
    again = client.post("/api/v1/projects/demo/index", headers=auth(tokens["writer"]),
                        json={"files": [{"path": "src/app.py", "content": APP_PY}]}).json()
    assert again["files"][0]["status"] == "unchanged"
    assert again["report"]["files_indexed"] == 0 and again["report"]["files_unchanged"] == 1


def test_search_context_code_and_stats(app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = app_client
    make_indexed(client, tokens["admin"])
    reader = auth(tokens["reader"])
    hits = client.post("/api/v1/projects/demo/search", headers=reader,
                       json={"query": "refresh token", "limit": 5, "explain": True}).json()
    assert hits["results"][0]["symbol"] == "refresh_token"
    assert "explain" in hits["results"][0]
    pack = client.post("/api/v1/projects/demo/context", headers=reader,
                       json={"query": "refresh token", "budget_tokens": 200}).json()
    assert 0 < pack["tokens"] <= 200 and "refresh_token" in pack["text"]
    code = client.get("/api/v1/projects/demo/code", headers=reader, params={"ref": "src/app.py:1-3"}).json()
    assert code["pieces"][0]["content"].startswith("def refresh_token")
    assert_envelope(client.get("/api/v1/projects/demo/code", headers=reader, params={"ref": "../x.py:1"}),
                    400, "invalid_path")
    stats = client.get("/api/v1/projects/demo/stats", headers=reader).json()
    assert stats["stats"]["files"] == 1


def test_code_reads_every_handle_context_hands_out(app_client: tuple[TestClient, dict[str, str]]) -> None:
    """Handles and symbol names read back through the API (every one of them was a 500)."""
    client, tokens = app_client
    make_indexed(client, tokens["admin"])
    admin = auth(tokens["admin"])
    pack = client.post("/api/v1/projects/demo/context", headers=admin,
                       json={"query": "refresh token login", "budget_tokens": 400, "format": "json"}).json()
    assert pack["chunks"]
    for chunk in pack["chunks"]:
        answer = client.get("/api/v1/projects/demo/code", headers=admin, params={"ref": chunk["handle"]})
        assert answer.status_code == 200, answer.text
        piece = answer.json()["pieces"][0]
        assert (piece["path"], piece["start_line"], piece["handle"]) == (chunk["path"], chunk["start_line"],
                                                                         chunk["handle"])
    by_symbol = client.get("/api/v1/projects/demo/code", headers=admin, params={"ref": "Session.login"}).json()
    assert by_symbol["pieces"][0]["symbol"] == "Session.login" and "def login" in by_symbol["pieces"][0]["content"]
    assert_envelope(client.get("/api/v1/projects/demo/code", headers=admin, params={"ref": "nothing_here"}),
                    404, "not_found")


def test_validation_errors_name_the_field(app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = app_client
    make_indexed(client, tokens["admin"])
    error = assert_envelope(client.post("/api/v1/projects/demo/search", headers=auth(tokens["reader"]),
                                        json={"query": "x", "limit": 101}), 422, "invalid_input")
    assert error["details"]["fields"][0]["field"] == "limit"
    error = assert_envelope(client.post("/api/v1/projects/demo/search", headers=auth(tokens["reader"]),
                                        json={"query": "x", "filters": {"languages": ["cobol"]}}), 422)
    assert error["details"]["fields"][0]["field"] == "filters.languages"
    assert_envelope(client.post("/api/v1/projects/demo/search", headers=auth(tokens["reader"]),
                                content=b"{not json", ), 422)


def test_unknown_routes_and_methods_use_the_envelope(app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = app_client
    assert_envelope(client.get("/api/v1/nothing"), 404, "not_found")
    assert_envelope(client.put("/health"), 405, "method_not_allowed")


def test_body_over_the_limit_is_413_before_parsing(prism_home: Path) -> None:
    app = create_app(server_settings(max_request_bytes=2048), Settings(home=prism_home, embedder="hashing"))
    client = TestClient(app)
    error = assert_envelope(client.post("/api/v1/projects", content=b"x" * 4096,
                                        headers={"content-type": "application/json"}), 413, "payload_too_large")
    assert error["details"]["limit_bytes"] == 2048

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(8):
            yield b"y" * 512

    assert_envelope(client.post("/api/v1/projects", content=chunks()), 413, "payload_too_large")


def test_security_headers_request_ids_and_cors(prism_home: Path) -> None:
    app = create_app(server_settings(cors_origins=["https://ok.example"]),
                     Settings(home=prism_home, embedder="hashing"))
    client = TestClient(app)
    response = client.get("/health", headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert len(client.get("/health", headers={"X-Request-ID": "bad id\x7f"}).headers["x-request-id"]) == 32
    preflight = {"Origin": "https://ok.example", "Access-Control-Request-Method": "POST"}
    allowed = client.options("/api/v1/projects", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://ok.example"
    denied = client.options("/api/v1/projects", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers


def test_rate_limit_429_with_retry_after_and_ratelimit_headers(
        app_client: tuple[TestClient, dict[str, str]], clock: FakeClock) -> None:
    client, tokens = app_client
    reader = auth(tokens["reader"])  # rate_reader = 5 per 10 s
    statuses = [client.get("/api/v1/projects", headers=reader) for _ in range(6)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429]
    assert statuses[0].headers["ratelimit-limit"] == "5"
    assert statuses[0].headers["ratelimit-remaining"] == "4"
    refused = statuses[-1]
    assert_envelope(refused, 429, "rate_limited")
    assert refused.headers["retry-after"] == "2"  # one token refills in 2 s
    assert refused.headers["ratelimit-remaining"] == "0"
    clock.now += 2.0
    assert client.get("/api/v1/projects", headers=reader).status_code == 200
    assert client.get("/api/v1/projects", headers=auth(tokens["writer"])).status_code == 200  # own bucket


def test_revoked_key_is_refused_on_the_next_request(app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = app_client
    admin = auth(tokens["admin"])
    created = client.post("/api/v1/keys", headers=admin, json={"name": "ci", "role": "reader"}).json()
    key = {"Authorization": f"Bearer {created['api_key']}"}
    assert client.get("/api/v1/projects", headers=key).status_code == 200
    assert client.delete(f"/api/v1/keys/{created['key']['key_id']}", headers=admin).status_code == 200
    assert_envelope(client.get("/api/v1/projects", headers=key), 401, "key_revoked")
    listed = client.get("/api/v1/keys", headers=admin).json()["keys"]
    assert created["key"]["key_id"] not in {k["key_id"] for k in listed}
    assert all("api_key" not in k and "key_hash" not in k for k in listed)


def test_rotate_replaces_the_secret_at_once(app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = app_client
    admin = auth(tokens["admin"])
    created = client.post("/api/v1/keys", headers=admin, json={"name": "bot", "role": "writer"}).json()
    rotated = client.post(f"/api/v1/keys/{created['key']['key_id']}/rotate", headers=admin).json()
    assert rotated["key"]["role"] == "writer" and rotated["api_key"] != created["api_key"]
    assert_envelope(client.get("/api/v1/projects", headers=auth(created["api_key"])), 401, "key_revoked")
    assert client.get("/api/v1/projects", headers=auth(rotated["api_key"])).status_code == 200


def _jwt(**claims: Any) -> str:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "dev@example.com", "aud": "prism", "exp": now + 300, "role": "reader",
                            "projects": "*"}
    base.update(claims)
    return jwt.encode(base, JWT_SECRET, algorithm="HS256")


def test_jwt_checks_expiry_not_before_audience_and_signature(
        app_client: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = app_client
    assert client.get("/api/v1/projects", headers=auth(_jwt())).status_code == 200
    now = int(time.time())
    assert_envelope(client.get("/api/v1/projects", headers=auth(_jwt(exp=now - 60))), 401, "credentials_expired")
    assert_envelope(client.get("/api/v1/projects", headers=auth(_jwt(nbf=now + 600))), 401, "unauthenticated")
    assert_envelope(client.get("/api/v1/projects", headers=auth(_jwt(aud="other"))), 401)
    forged = jwt.encode({"sub": "x", "aud": "prism", "exp": now + 60, "role": "admin"}, "w" * 40,
                        algorithm="HS256")
    assert_envelope(client.get("/api/v1/projects", headers=auth(forged)), 401)
    assert_envelope(client.get("/api/v1/keys", headers=auth(_jwt())), 403, "forbidden")


def test_production_refuses_to_start_without_secrets(prism_home: Path) -> None:
    engine = Settings(home=prism_home, embedder="hashing")
    with pytest.raises(ConfigError, match="API_SECRET"):
        create_app(ServerSettings(environment="production"), engine)
    with pytest.raises(ConfigError, match="Anonymous"):
        create_app(server_settings(environment="production", allow_anonymous=True), engine)
    with pytest.raises(ConfigError, match="shorter"):
        create_app(ServerSettings(environment="production", api_secret="short"), engine)


def test_anonymous_access_only_when_enabled_in_development(prism_home: Path) -> None:
    engine = Settings(home=prism_home, embedder="hashing")
    open_app = TestClient(create_app(server_settings(allow_anonymous=True), engine))
    assert open_app.get("/api/v1/projects").status_code == 200
    assert_envelope(open_app.get("/api/v1/keys"), 403)  # anonymous is a reader
    closed = TestClient(create_app(server_settings(environment="production", cors_origins=["https://a.example"]),
                                   engine))
    assert_envelope(closed.get("/api/v1/projects"), 401, "unauthenticated")


def test_server_path_projects_need_an_allowed_root(prism_home: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text(APP_PY, encoding="utf-8")
    engine = Settings(home=prism_home, embedder="hashing")
    app = create_app(server_settings(allowed_roots=[tmp_path]), engine)
    admin = auth(app.state.prism.keys.create("a", "admin")[1])
    client = TestClient(app)
    assert client.post("/api/v1/projects", headers=admin, json={"name": "repo", "path": str(repo)}).status_code == 201
    indexed = client.post("/api/v1/projects/repo/index", headers=admin, json={}).json()
    assert indexed["report"]["files_indexed"] == 1
    assert_envelope(client.post("/api/v1/projects/repo/index", headers=admin,
                                json={"files": [{"path": "a.py", "content": "x"}]}), 409)
    assert_envelope(client.post("/api/v1/projects", headers=admin, json={"name": "etc", "path": "/etc"}),
                    403, "forbidden")
    assert_envelope(client.post("/api/v1/projects", headers=admin, json={"name": "repo"}), 409, "conflict")


@pytest.mark.timeout(60)  # the FIFO hung the old route forever
def test_code_serves_only_what_the_index_admits(
        prism_home: Path, hostile_repo: tuple[Path, tuple[str, ...], tuple[str, ...]]) -> None:
    root, refused, secrets = hostile_repo
    app = create_app(server_settings(allowed_roots=[root.parent]), Settings(home=prism_home, embedder="hashing"))
    admin = auth(app.state.prism.keys.create("a", "admin")[1])
    client = TestClient(app)
    assert client.post("/api/v1/projects", headers=admin, json={"name": "h", "path": str(root)}).status_code == 201
    assert client.post("/api/v1/projects/h/index", headers=admin, json={}).status_code == 200
    for ref in refused:
        answer = client.get("/api/v1/projects/h/code", headers=admin, params={"ref": ref})
        assert_envelope(answer, 400, "invalid_path")
        assert not any(secret in answer.text for secret in secrets), (ref, answer.text)
    fine = client.get("/api/v1/projects/h/code", headers=admin, params={"ref": "src/app.py:1-2"})
    assert "def served" in fine.json()["pieces"][0]["content"]


def test_secrets_are_never_logged(prism_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(server_settings(), Settings(home=prism_home, embedder="hashing"))
    key = app.state.prism.keys.create("a", "admin")[1]
    with TestClient(app) as client:
        client.get("/api/v1/projects", headers=auth(key))
        client.get("/api/v1/projects", headers=auth(key[:-3] + "zzz"))
        token = _jwt()
        client.get("/api/v1/projects", headers=auth(token))
        client.get("/api/v1/projects", headers={"X-API-Key": key})
        logging.getLogger("prism.http").warning("oops %s %s", key, API_SECRET)  # even a careless call
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "GET /api/v1/projects 200" in text
    for secret in (API_SECRET, JWT_SECRET, key, key[len("prism_") + 13:], token, token.split(".")[2]):
        assert secret not in text
    assert "[redacted]" in text
