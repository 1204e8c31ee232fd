"""Structured access logs: one JSON line per request, with the response's request id, key and project."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.e2e.test_http import auth, make_indexed, server_settings

from prism.config import Settings
from prism.serve.http.app import create_app
from prism.serve.http.logs import JsonFormatter, configure_logging


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "prism.http.access"]


def test_one_json_line_per_request_with_the_same_request_id(prism_home: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(server_settings(), Settings(home=prism_home, embedder="hashing"))
    key, admin = app.state.prism.keys.create("admin", "admin")
    with TestClient(app) as client:
        make_indexed(client, admin)
        caplog.clear()
        caplog.set_level(logging.INFO, "prism")
        found = client.post("/api/v1/projects/demo/search", json={"query": "refresh token"},
                            headers={**auth(admin), "X-Request-ID": "trace-42"})
        anonymous = client.get("/api/v1/projects")
    assert found.headers["x-request-id"] == "trace-42"
    lines = access_lines(caplog)
    assert len(lines) == 2
    line = lines[0]
    assert {k: line[k] for k in ("request_id", "method", "route", "status", "key_id", "project", "level")} == {
        "request_id": "trace-42", "method": "POST", "route": "/api/v1/projects/{project}/search", "status": 200,
        "key_id": f"key:{key.key_id}", "project": "demo", "level": "info"}
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] > 0
    assert lines[1]["request_id"] == anonymous.headers["x-request-id"]
    assert (lines[1]["status"], lines[1]["key_id"], lines[1]["project"]) == (401, "-", "-")


def test_log_level_comes_from_the_setting(prism_home: Path, caplog: pytest.LogCaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "WARNING")  # the original PRISM's name
    app = create_app(server_settings(), Settings(home=prism_home, embedder="hashing"))
    try:
        assert app.state.prism.settings.log_level == "WARNING"
        with TestClient(app) as client:
            caplog.clear()
            assert client.get("/health").status_code == 200
        assert access_lines(caplog) == []
    finally:
        configure_logging("INFO", [])
