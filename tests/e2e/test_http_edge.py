"""The edge of the team server over a real socket: an unexpected error, then the next pooled request.

uvicorn serves the app in a thread on a free loopback port and one httpx client keeps one
connection, so a server that closes the connection after a 500 (without `Connection: close`)
fails the second request, as it failed pooled clients in the security probe.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from prism.config import Settings
from prism.serve.http.app import create_app
from prism.serve.http.middleware import SECURITY_HEADERS
from prism.serve.http.settings import ServerSettings

API_SECRET = "edge-secret-" + "e" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fault_app(home: Path) -> FastAPI:
    """The real app plus one route that fails the way a bug does: an exception nobody handles."""
    app = create_app(ServerSettings(api_secret=API_SECRET), Settings(home=home, embedder="hashing"),
                     load_model=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug in a handler")

    return app


@pytest.fixture
def base_url(prism_home: Path) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fault_app(prism_home), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_an_unexpected_error_answers_500_with_id_and_headers_and_keeps_the_connection(
        base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="prism")
    with httpx.Client(base_url=base_url, limits=httpx.Limits(max_connections=1), timeout=10) as client:
        failed = client.get("/boom", headers={"X-Request-ID": "boom-1"})
        assert failed.status_code == 500
        assert failed.json()["error"] == {"code": "internal_error", "details": {}, "request_id": "boom-1",
                                          "message": "The server hit an unexpected error; it has been logged."}
        assert "a bug in a handler" not in failed.text  # the traceback goes to the log only
        assert failed.headers["x-request-id"] == "boom-1"
        for name, value in SECURITY_HEADERS:
            assert failed.headers[name.decode()] == value.decode()
        # Either the server keeps the connection or it says it will close it; it must not just drop it.
        assert failed.headers.get("connection", "keep-alive").lower() != "close"
        after = client.get("/health", headers={"X-Request-ID": "after-1"})  # the same pooled connection
        assert after.status_code == 200 and after.headers["x-request-id"] == "after-1"

    mine = [r for r in caplog.records if getattr(r, "request_id", None) == "boom-1"]
    errors = [r for r in mine if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is not None, [r.getMessage() for r in mine]  # traceback
    assert [r.getMessage().split()[:3] for r in mine if r.levelname == "INFO"] == [["GET", "/boom", "500"]]
    assert not [r for r in caplog.records if r.levelname == "ERROR" and getattr(r, "request_id", "-") == "-"]

def test_a_wrong_method_lists_every_method_of_the_path(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        projects = client.options("/api/v1/projects")  # GET and POST are two routes on one path
        key = client.request("PUT", "/api/v1/keys/0123456789ab")  # DELETE and PATCH only
    assert projects.status_code == 405
    assert {m.strip() for m in projects.headers["allow"].split(",")} == {"GET", "POST"}
    assert projects.json()["error"]["code"] == "method_not_allowed"
    assert {m.strip() for m in key.headers["allow"].split(",")} == {"DELETE", "PATCH"}


def test_schema_and_behaviour_agree_on_what_the_probe_found(prism_home: Path) -> None:
    """schemathesis notes: /metrics errors are JSON; `path: ""` and `expires_days: 5e-324` are refused
    by the schema itself, not only by the server."""
    from fastapi.testclient import TestClient

    app = fault_app(prism_home)
    state = app.state.prism
    token = state.keys.create("admin", "admin")[1]
    state.projects.create("demo")
    state.projects.index("demo")
    spec = app.openapi()
    metrics = spec["paths"]["/metrics"]["get"]["responses"]
    assert list(metrics["401"]["content"]) == ["application/json"]
    assert list(metrics["200"]["content"]) == ["text/plain"]
    schemas = spec["components"]["schemas"]
    glob = schemas["Filters"]["properties"]["path"]
    assert glob["anyOf"][0]["minLength"] == 1 and "pattern" in glob
    assert schemas["ProjectCreate"]["properties"]["path"]["anyOf"][0]["minLength"] == 1
    assert schemas["KeyCreate"]["properties"]["expires_days"]["anyOf"][0]["minimum"] > 5e-324
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        assert client.get("/metrics").headers["content-type"] == "application/json"
        for path, body in (("/api/v1/projects/demo/search", {"query": "x", "filters": {"path": ""}}),
                           ("/api/v1/projects", {"name": "other", "path": ""}),
                           ("/api/v1/keys", {"name": "k", "expires_days": 5e-324}),
                           ("/api/v1/projects/demo/search", {"query": "x", "explain": 0})):
            answer = client.post(path, json=body, headers=headers)
            assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_input", (path, body)
        assert client.post("/api/v1/projects/demo/search", json={"query": "x", "limit": 5.0},
                           headers=headers).status_code == 200  # JSON Schema's integer includes 5.0


def test_an_upload_over_the_project_quota_is_413_quota_exceeded(prism_home: Path) -> None:
    from fastapi.testclient import TestClient

    app = create_app(ServerSettings(api_secret=API_SECRET, max_project_files=2),
                     Settings(home=prism_home, embedder="hashing"), load_model=False)
    token = app.state.prism.keys.create("admin", "admin")[1]
    headers = {"Authorization": f"Bearer {token}"}
    files = [{"path": f"m{n}.py", "content": f"X = {n}\n"} for n in range(3)]
    with TestClient(app) as client:
        assert client.post("/api/v1/projects", json={"name": "demo"}, headers=headers).status_code == 201
        refused = client.post("/api/v1/projects/demo/index", json={"files": files}, headers=headers)
        assert refused.status_code == 413, refused.text
        error = refused.json()["error"]
        assert error["code"] == "quota_exceeded" and "PRISM_MAX_PROJECT_FILES" in error["details"]["hint"]
        project = client.get("/api/v1/projects/demo", headers=headers).json()
        assert (project["indexed"], project["state"]) == (False, "new")  # a refused request changes nothing
