"""`prism migrate --server`: a team server's embedded home (an uploaded project, a server-path project,
API keys, a revoked key, usage, audit log) moved to PostgreSQL + Redis and served from a new
home gives the same search and context answers, the same keys work (the revoked one stays
refused), the uploaded files read through /code, and usage and the audit log carry over; then
back into another embedded home, the same again. Nothing is re-embedded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
from fastapi.testclient import TestClient
from tests.e2e.test_scale_out import redis_database
from typer.testing import CliRunner

from json_shapes import check, documented
from prism.config import Settings
from prism.serve.cli import app as cli_app
from prism.serve.http.app import create_app
from prism.serve.http.settings import ServerSettings
from services import scratch_database

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "repos" / "shop"
API_SECRET = "migrate-server-" + hashlib.sha256(b"prism migrate --server").hexdigest()
REDIS_DB = 9  # this module's own keyspace
UPLOAD = {"src/auth.py": "def refresh_token(user):\n    '''Refresh the access token.'''\n    return user.token + 1\n",
          "src/util.py": "def slugify(text):\n    return text.lower().replace(' ', '-')\n",
          "docs/readme.md": "# Demo\n\nTokens are refreshed by `refresh_token`.\n"}
QUERIES = {"up": ("refresh the access token", "slugify text"),
           "local": ("apply a discount to the cart total", "charge the card")}
runner = CliRunner()


@dataclass
class Keys:
    admin: str
    reader: str
    revoked: str


def server(home: Path, repos: Path, database: str | None = None, redis: str | None = None) -> TestClient:
    return TestClient(create_app(ServerSettings(api_secret=API_SECRET, allowed_roots=[repos], redis_url=redis),
                                 Settings(home=home, embedder="hashing", database_url=database), load_model=False))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def answers(client: TestClient, keys: Keys) -> dict[str, Any]:
    """What an operator's users see: rankings, packs, a file read, keys' reach, usage, audit."""
    seen: dict[str, Any] = {}
    for project, queries in QUERIES.items():
        for query in queries:
            found = client.post(f"/api/v1/projects/{project}/search", json={"query": query},
                                headers=bearer(keys.reader))
            assert found.status_code == 200, found.text
            seen[f"search {project} {query}"] = [(r["path"], r["start_line"], r["end_line"], round(r["score"], 6))
                                                 for r in found.json()["results"]]
            pack = client.post(f"/api/v1/projects/{project}/context", json={"query": query, "budget_tokens": 2000},
                               headers=bearer(keys.reader))
            assert pack.status_code == 200, pack.text
            seen[f"context {project} {query}"] = pack.json()["text"]
    code = client.get("/api/v1/projects/up/code", params={"ref": "src/auth.py:1-3"}, headers=bearer(keys.reader))
    assert code.status_code == 200, code.text
    seen["code"] = code.json()["pieces"][0]["content"]
    seen["projects"] = sorted((p["name"], p["kind"], p["state"], p["indexed"]) for p in
                              client.get("/api/v1/projects", headers=bearer(keys.admin)).json()["projects"])
    seen["keys"] = sorted((k["key_id"], k["name"], k["role"]) for k in
                          client.get("/api/v1/keys", headers=bearer(keys.admin)).json()["keys"])
    return seen


def usage(client: TestClient, keys: Keys) -> list[tuple[str, str, str, str, int]]:
    rows = client.get("/api/v1/usage", params={"days": 2}, headers=bearer(keys.admin)).json()["usage"]
    return sorted((r["principal"], r["day"], r["project"], r["route"], r["requests"]) for r in rows)


def audit(client: TestClient, keys: Keys) -> list[tuple[str, str, str]]:
    events = client.get("/api/v1/audit", headers=bearer(keys.admin)).json()["events"]
    return [(e["principal"], e["event"], e["target"]) for e in events]


def migrate(*args: str) -> dict[str, Any]:
    result = runner.invoke(cli_app, ["migrate", "--server", *args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    check(data, documented()["migrate --server"])  # the shape docs/cli.md gives
    return data


@contextmanager
def fresh_redis(url: str) -> Iterator[str]:
    redis = redis_database(url, REDIS_DB)
    client = redis_client.Redis.from_url(redis)
    client.flushdb()
    try:
        yield redis
    finally:
        client.flushdb()
        client.close()


def test_a_team_server_moves_to_postgresql_and_redis_and_back(tmp_path: Path, postgres_url: str, redis_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    repos = tmp_path / "repos"
    shutil.copytree(SHOP, repos / "shop")
    homes = {name: tmp_path / name for name in ("embedded", "replica", "back")}
    with server(homes["embedded"], repos) as before:
        state = before.app.state.prism  # type: ignore[attr-defined]
        _, admin = state.keys.create("ops", "admin")
        _, reader = state.keys.create("ci", "reader")
        gone, revoked = state.keys.create("old laptop", "reader")
        state.keys.revoke(gone.key_id)
        keys = Keys(admin, reader, revoked)
        assert before.post("/api/v1/projects", json={"name": "up"}, headers=bearer(admin)).status_code == 201
        assert before.post("/api/v1/projects", json={"name": "local", "path": str(repos / "shop")},
                           headers=bearer(admin)).status_code == 201
        body = {"files": [{"path": p, "content": c} for p, c in UPLOAD.items()]}
        assert before.post("/api/v1/projects/up/index", json=body, headers=bearer(admin)).status_code == 200
        assert before.post("/api/v1/projects/local/index", json={}, headers=bearer(admin)).status_code == 200
        expected = answers(before, keys)
        old_usage, old_audit = usage(before, keys), audit(before, keys)
    assert expected["search up refresh the access token"][0][0] == "src/auth.py"
    assert expected["projects"] == [("local", "path", "ready", True), ("up", "upload", "ready", True)]

    with scratch_database(postgres_url) as database, fresh_redis(redis_url) as redis:
        monkeypatch.setenv("PRISM_HOME", str(homes["embedded"]))
        monkeypatch.setenv("PRISM_EMBEDDER", "hashing")
        with scratch_database(postgres_url) as elsewhere:  # without PRISM_API_SECRET: a warning, as keys need it
            warned = migrate("--to", elsewhere)
            assert "PRISM_API_SECRET" in warned["warnings"][0] and warned["usage_counts"] == 0
        monkeypatch.setenv("PRISM_API_SECRET", API_SECRET)
        moved = migrate("--to", database, "--redis", redis)
        assert moved["warnings"] == []
        assert {p["name"]: (p["kind"], p["uploaded_files"]) for p in moved["projects"]} == {
            "up": ("upload", len(UPLOAD)), "local": ("path", 0)}
        assert all(p["chunks"] > 0 and p["vectors"] == p["chunks"] for p in moved["projects"]), moved
        assert (moved["keys"], moved["revoked_tokens"]) == (3, 0) and moved["usage_counts"] > 0
        assert "@" not in moved["to"]

        # Another host: a home of its own, so nothing can come from the embedded files.
        with server(homes["replica"], repos, database, redis) as replica:
            assert answers(replica, keys) == expected
            assert replica.get("/api/v1/projects", headers=bearer(revoked)).status_code == 401
            covers(usage(replica, keys), old_usage)
            assert audit(replica, keys)[1:len(old_audit) + 1] == old_audit
            assert audit(replica, keys)[0][1:] == ("server.migrate", "server")
        assert (homes["replica"] / "server" / "files" / "up" / "src" / "auth.py").read_text() == UPLOAD["src/auth.py"]
        refused = runner.invoke(cli_app, ["migrate", "--server", "--to", database, "--json"])
        assert refused.exit_code != 0 and "already holds" in json.loads(refused.stdout)["error"]["message"]

        monkeypatch.setenv("PRISM_HOME", str(homes["back"]))
        back = migrate("--to", "sqlite", "--from", database, "--redis", redis)
        assert [(p["name"], p["chunks"]) for p in back["projects"]] == [
            (p["name"], p["chunks"]) for p in moved["projects"]]
    with server(homes["back"], repos) as embedded_again:
        assert answers(embedded_again, keys) == expected
        assert embedded_again.get("/api/v1/projects", headers=bearer(revoked)).status_code == 401
        covers(usage(embedded_again, keys), old_usage)


def covers(now: list[tuple[str, str, str, str, int]], before: list[tuple[str, str, str, str, int]]) -> None:
    """Every count from before is still there (the requests made since only add to them)."""
    counts = {row[:4]: row[4] for row in now}
    assert before and all(counts.get(row[:4], 0) >= row[4] for row in before), (before, now)
