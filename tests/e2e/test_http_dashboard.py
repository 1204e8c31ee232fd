"""The dashboard over HTTP, in-process: the page and its files (CSP, nothing but a fixed list), and its one data
route — numbers equal to what the clients did, sections hidden without their action, empty on a new server."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.e2e.test_http import API_SECRET, assert_envelope, auth, make_indexed, server_settings
from typer.testing import CliRunner

from prism.config import Settings
from prism.ops.dashboard_data import DAYS
from prism.serve.cli import app as cli
from prism.serve.http.app import create_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "production" / "dashboard.md"
QUOTAS = [{"resource": "searches", "per": "key", "limit": 3, "target": 2},
          {"resource": "tokens_served", "per": "server", "limit": 100_000, "target": 50_000, "alert": "90%"}]


def client_for(prism_home: Path, **settings: Any) -> tuple[TestClient, str]:
    app = create_app(server_settings(**settings), Settings(home=prism_home, embedder="hashing"), load_model=False)
    return TestClient(app), app.state.prism.keys.create("admin", "admin")[1]


def test_the_page_and_its_files_allow_only_same_origin_script(prism_home: Path) -> None:
    client, _ = client_for(prism_home)
    with client:
        page = client.get("/dashboard")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "default-src 'none'" in csp and "form-action 'none'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
        html = page.text
        assert "<script>" not in html and "style=" not in html  # nothing inline for the CSP to refuse
        assert re.findall(r'<script src="([^"]+)"', html) == ["/dashboard/static/dashboard.js"]
        assert "http://" not in html.replace('"http://www.w3.org', "") and "https://" not in html  # no CDN
        for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css"),
                           ("icon.svg", "image/svg+xml")):
            asset = client.get(f"/dashboard/static/{name}")
            assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind), name
        script = client.get("/dashboard/static/dashboard.js").text
        assert not re.search(r"\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write|\beval\(", script)
        for name in ("dashboard.html", "..%2Fapp.py", "nothing.js"):
            assert_envelope(client.get(f"/dashboard/static/{name}"), 404)
        assert "/dashboard" not in client.get("/api/v1/openapi.json").json()["paths"]
        assert "/api/v1/dashboard" in client.get("/api/v1/openapi.json").json()["paths"]


def run_load(client: TestClient, admin: str) -> dict[str, int]:
    """What the clients did, counted here to compare with the dashboard."""
    make_indexed(client, admin)
    did = {"api_requests": 2, "searches": 0, "tokens_served": 0}  # project create, index
    for query in ("refresh token", "refresh token", "session login"):
        found = client.post("/api/v1/projects/demo/search", json={"query": query}, headers=auth(admin))
        assert found.status_code == 200
        did["searches"] += 1
        did["api_requests"] += 1
    assert_envelope(client.post("/api/v1/projects/demo/search", json={"query": "x"}, headers=auth(admin)), 429,
                    "quota_exceeded")
    did["api_requests"] += 1
    for _ in range(2):
        pack = client.post("/api/v1/projects/demo/context", json={"query": "refresh the token", "budget_tokens": 200},
                           headers=auth(admin))
        assert pack.status_code == 200
        did["tokens_served"] += pack.json()["tokens"]
        did["api_requests"] += 1
    return did


def test_the_data_route_shows_what_the_clients_did(prism_home: Path) -> None:
    client, admin = client_for(prism_home, quotas=json.dumps(QUOTAS))
    with client:
        did = run_load(client, admin)
        for _ in range(2):  # its own requests never show in its latency
            answer = client.get("/api/v1/dashboard", headers=auth(admin))
        assert answer.status_code == 200, answer.text
        data = answer.json()
    assert len(data["days"]) == DAYS and data["days"][-1]["day"] == data["day"]
    assert all(d["requests"] == 0 and d["error_rate"] is None for d in data["days"][:-1])
    today = data["days"][-1]
    assert today["searches"] == did["searches"] and today["context_packs"] == 2
    assert today["tokens_served"] == did["tokens_served"] > 0
    assert today["quota_refused"] == 1 and today["errors"] == 0 and today["error_rate"] == 0.0
    assert today["cache_hits"] >= 2 and 0 < today["cache_hit_rate"] < 1  # the repeated search and pack
    assert today["requests"] == did["api_requests"] + 1  # and the dashboard's first look
    latency = data["latency"]
    assert latency["api"]["count"] == did["api_requests"]
    assert latency["search"]["count"] == did["searches"] and latency["context"]["count"] == 2
    assert 0 < latency["api"]["p50_ms"] <= latency["api"]["p95_ms"]
    assert sum(b["count"] for b in latency["api"]["buckets"]) == did["api_requests"]
    quotas = {(q["resource"], q["subject"]): q for q in data["quotas"]}
    searches = quotas[("searches", data["principal"])]
    assert (searches["used"], searches["limit"], searches["target"], searches["percent"]) == (3, 3, 2, 100.0)
    assert quotas[("tokens_served", "*")]["used"] == did["tokens_served"]
    assert quotas[("tokens_served", "*")]["alert"] == 90_000
    [index] = data["indexes"]
    assert index["project"] == "demo" and index["indexed"] and index["chunks"] > 0 and index["files"] >= 1
    assert 0 <= index["age_s"] < 600
    assert [e["event"] for e in data["audit"]] == ["project.create"]
    assert data["missing"] == []


def test_a_section_is_hidden_without_its_action_and_a_lesser_key_is_refused(prism_home: Path) -> None:
    client, admin = client_for(prism_home)
    state = client.app.state.prism  # type: ignore[attr-defined]
    usage_only = state.keys.create("usage", None, actions=frozenset({"usage.read"}))[1]
    scoped = state.keys.create("scoped", None, ("demo",), actions=frozenset({"usage.read", "audit.read"}))[1]
    reader = state.keys.create("reader", "reader")[1]
    with client:
        data = client.get("/api/v1/dashboard", headers=auth(usage_only)).json()
        assert data["latency"] is None and data["audit"] is None
        assert data["missing"] == ["metrics.read", "audit.read"]
        assert_envelope(client.get("/api/v1/dashboard", headers=auth(scoped)), 403, "forbidden")
        assert_envelope(client.get("/api/v1/dashboard", headers=auth(reader)), 403, "forbidden")
        assert_envelope(client.get("/api/v1/dashboard"), 401)
        assert_envelope(client.get("/api/v1/dashboard", params={"api_key": admin}), 401)  # never from a URL


def test_a_new_server_has_empty_sections_not_errors(prism_home: Path) -> None:
    client, admin = client_for(prism_home)
    with client:
        data = client.get("/api/v1/dashboard", headers=auth(admin)).json()
    assert data["quotas"] == [] and data["indexes"] == [] and data["audit"] == []
    assert all(d["tokens_served"] == 0 and d["cache_hit_rate"] is None for d in data["days"])
    assert data["latency"]["api"]["count"] == 0 and data["latency"]["api"]["p95_ms"] is None


def doc_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_the_dashboard_doc_key_command_makes_a_key_that_sees_every_section(
        prism_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_API_SECRET", API_SECRET)
    [command] = doc_commands()
    words = shlex.split(command)
    assert words[:3] == ["prism", "keys", "create"]
    made = CliRunner().invoke(cli, [*words[1:], "--json"])
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)["api_key"]
    client, _ = client_for(prism_home)
    with client:
        data = client.get("/api/v1/dashboard", headers=auth(key)).json()
    assert data["missing"] == [] and data["audit"] is not None and data["latency"] is not None
