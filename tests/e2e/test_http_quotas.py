"""Daily quotas end to end: past the target, the alert (log line once, webhook retried) and the limit (429)."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.e2e.test_http import assert_envelope, auth, make_indexed, server_settings

from prism.config import Settings
from prism.errors import ConfigError
from prism.ops.meter import seconds_to_next_utc_day
from prism.ops.quotas import parse_quotas
from prism.serve.http.app import create_app

QUOTAS = [{"resource": "searches", "per": "key", "limit": 4, "target": 2, "alert": 3},
          {"resource": "requests", "per": "server", "limit": 10_000}]


class Receiver:
    """A webhook receiver on loopback: the first POST fails (500), so the sender must retry."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts == 1:
                    self.send_response(500)
                else:
                    receiver.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout_s: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.bodies) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.bodies

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def quota_lines(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "prism.quotas" and getattr(r, "fields", {}).get("event") == event]


def test_a_quota_alerts_past_its_threshold_and_refuses_past_its_limit(
        prism_home: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(server_settings(quotas=json.dumps(QUOTAS), alert_webhook=receiver.url),
                     Settings(home=prism_home, embedder="hashing"))
    app.state.prism.quotas.alerts.backoff_s = 0.2  # the first delivery fails; retry soon
    state = app.state.prism
    admin, other = (state.keys.create(name, "admin")[1] for name in ("admin", "other"))
    admin_id = "key:" + state.keys.verify(admin).key_id
    with TestClient(app) as client:
        make_indexed(client, admin)

        def search(token: str) -> Any:
            return client.post("/api/v1/projects/demo/search", json={"query": "refresh token"}, headers=auth(token))

        caplog.set_level(logging.INFO, "prism")
        assert [search(admin).status_code for _ in range(2)] == [200, 200]  # at the target: quiet
        assert quota_lines(caplog, "quota.alert") == [] and receiver.attempts == 0
        assert search(admin).status_code == 200  # the third reaches the alert threshold
        [line] = quota_lines(caplog, "quota.alert")
        assert "searches per key at 3 of 4" in line.getMessage() and admin_id in line.getMessage()
        assert search(admin).status_code == 200  # the fourth uses the quota up
        refused = search(admin)
        error = assert_envelope(refused, 429, "quota_exceeded")
        assert "daily searches quota of 4 per key is used up" in error["message"]
        assert abs(int(refused.headers["Retry-After"]) - seconds_to_next_utc_day()) <= 2
        assert search(other).status_code == 200  # per key: another key still searches
        assert client.get("/api/v1/projects", headers=auth(admin)).status_code == 200  # and other routes answer
        assert len(quota_lines(caplog, "quota.alert")) == 1 and len(quota_lines(caplog, "quota.limit")) == 1

        bodies = receiver.wait_for(2)
        assert receiver.attempts == 3  # one failed try, retried, and the limit alert
        assert [(b["event"], b["resource"], b["subject"], b["used"]) for b in bodies] == [
            ("quota.alert", "searches", admin_id, 3), ("quota.limit", "searches", admin_id, 4)]

        table = client.get("/api/v1/usage/quotas", headers=auth(admin)).json()["quotas"]
        mine = next(r for r in table if r["resource"] == "searches" and r["subject"] == admin_id)
        assert (mine["used"], mine["limit"], mine["target"], mine["alert"], mine["percent"]) == (4, 4, 2, 3, 100.0)
        server = next(r for r in table if r["per"] == "server")
        assert server["subject"] == "*" and server["used"] >= 9

        metrics = client.get("/metrics", headers=auth(admin)).text
        assert 'prism_work_total{metric="quota_refused"} 1.0' in metrics
        assert f'prism_quota_used{{per="key",resource="searches",subject="{admin_id}"}} 4.0' in metrics
        assert f'prism_quota_limit{{per="key",resource="searches",subject="{admin_id}"}} 4.0' in metrics


def test_malformed_quotas_are_refused_with_the_setting_named() -> None:
    for text, words in (("{", "not JSON"), ('[{"resource": "naps", "limit": 1}]', "needs a resource"),
                        ('[{"resource": "searches", "limit": 0}]', "positive `limit`"),
                        ('[{"resource": "searches", "limit": 10, "alert": "lots"}]', "percentage")):
        with pytest.raises(ConfigError, match="PRISM_QUOTAS") as caught:
            parse_quotas(text)
        assert words in caught.value.message
    [quota] = parse_quotas('[{"resource": "tokens_served", "per": "project", "limit": 1000, "alert": "90%"}]')
    assert (quota.per, quota.alert_at, quota.target) == ("project", 900, None)
    assert parse_quotas(None) == () and parse_quotas("") == ()


def test_replicas_on_one_redis_share_a_project_quota(tmp_path: Path, redis_url: str) -> None:
    """Two servers with their own PRISM_HOME and one Redis: the meter, and so the quota, is theirs together."""
    project = "q" + uuid.uuid4().hex[:10]  # the session's Redis is shared: a fresh project, fresh counts
    quotas = json.dumps([{"resource": "searches", "per": "project", "limit": 3}])
    apps = [create_app(server_settings(quotas=quotas, redis_url=redis_url),
                       Settings(home=tmp_path / name, embedder="hashing")) for name in ("a", "b")]
    tokens = [app.state.prism.keys.create("admin", "admin")[1] for app in apps]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        clients = list(zip((first, second), tokens, strict=True))
        for client, token in clients:
            make_indexed(client, token, project)

        def search(client: TestClient, token: str) -> int:
            return client.post(f"/api/v1/projects/{project}/search", json={"query": "refresh token"},
                               headers=auth(token)).status_code

        assert [search(*clients[0]), search(*clients[0]), search(*clients[1])] == [200, 200, 200]
        for app in (*apps, *apps):  # what the background flushes do within a second: write, then read all
            app.state.prism.meter.flush()
        assert [search(*clients[0]), search(*clients[1])] == [429, 429]
        assert not (tmp_path / "a" / "server" / "meter.db").exists()
