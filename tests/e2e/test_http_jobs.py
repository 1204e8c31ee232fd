"""Index jobs over HTTP: POST a job, poll it to done, then search what it indexed; in memory and on Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from prism.config import Settings
from prism.serve.http.app import create_app
from prism.serve.http.settings import ServerSettings
from prism.service.jobs import RedisJobQueue
from prism.service.worker import run_worker

API_SECRET = "jobs-secret-" + "j" * 40
APP_PY = "def refresh_token(user):\n    '''Refresh the access token.'''\n    return user.token + 1\n"


@pytest.fixture(params=["memory", "redis"])
def client(request: pytest.FixtureRequest, prism_home: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A server whose jobs run in its own thread (memory) or in a separate worker on Redis."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    app = create_app(ServerSettings(api_secret=API_SECRET, environment="development", redis_url=redis_url),
                     Settings(home=prism_home, embedder="hashing"))
    state = app.state.prism
    tokens = {role: state.keys.create(role, role)[1] for role in ("reader", "writer", "admin")}
    stop = threading.Event()
    worker: threading.Thread | None = None
    if redis_url:  # stands in for a `prism worker` process (tests/e2e/test_worker.py runs real ones)
        queue = RedisJobQueue(redis_url)
        worker = threading.Thread(target=run_worker, args=(queue,), kwargs={"stop": stop, "wait_s": 0.2})
        worker.start()
    try:
        with TestClient(app) as test_client:
            yield test_client, tokens
    finally:
        stop.set()
        if worker is not None:
            worker.join()
            queue.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def poll(client: TestClient, url: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job: dict[str, Any] = client.get(url, headers=auth(token)).json()
        if job["state"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_an_index_job_is_queued_polled_and_its_index_searched(client: tuple[TestClient, dict[str, str]]) -> None:
    http, tokens = client
    writer, admin = auth(tokens["writer"]), auth(tokens["admin"])
    assert http.post("/api/v1/projects", json={"name": "demo"}, headers=admin).status_code == 201
    body = {"files": [{"path": "auth.py", "content": APP_PY}]}
    assert http.post("/api/v1/projects/demo/index", json=body, headers=writer).status_code == 200
    assert http.post("/api/v1/projects", json={"name": "other"}, headers=admin).status_code == 201

    queued = http.post("/api/v1/projects/demo/jobs", json={"force": True}, headers=writer)
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["project"] == "demo" and job["state"] in ("queued", "running", "done") and job["attempts"] <= 1
    url = f"/api/v1/projects/demo/jobs/{job['id']}"
    done = poll(http, url, tokens["reader"])
    assert done["state"] == "done", done
    assert done["attempts"] == 1 and done["error"] is None and done["result"]["files_indexed"] == 1
    found = http.post("/api/v1/projects/demo/search", json={"query": "refresh token"}, headers=writer)
    assert found.status_code == 200 and found.json()["results"], found.text

    # A job is found only under its own project, and a made-up id is a 404 in the one error shape.
    elsewhere = http.get(f"/api/v1/projects/other/jobs/{job['id']}", headers=writer)
    assert elsewhere.status_code == 404 and elsewhere.json()["error"]["code"] == "not_found"
    assert http.get(f"/api/v1/projects/demo/jobs/{'0' * 32}", headers=writer).status_code == 404
    assert http.get("/api/v1/projects/demo/jobs/not-an-id", headers=writer).status_code == 422
    assert http.post("/api/v1/projects/nosuch/jobs", json={}, headers=writer).status_code == 404
    assert http.post("/api/v1/projects/demo/jobs", json={}, headers=auth(tokens["reader"])).status_code == 403


def test_a_job_is_polled_by_id_alone_and_only_within_the_keys_projects(
        client: tuple[TestClient, dict[str, str]]) -> None:
    http, tokens = client
    admin = auth(tokens["admin"])
    for name in ("demo", "other"):
        assert http.post("/api/v1/projects", json={"name": name}, headers=admin).status_code == 201
    assert http.post("/api/v1/projects/demo/index", json={"files": [{"path": "auth.py", "content": APP_PY}]},
                     headers=admin).status_code == 200
    keys = http.app.state.prism.keys
    demo_reader, other_reader = (keys.create(f"{p} reader", "reader", (p,))[1] for p in ("demo", "other"))
    job = http.post("/api/v1/projects/demo/jobs", json={}, headers=admin).json()

    done = poll(http, f"/api/v1/jobs/{job['id']}", demo_reader)
    assert done["state"] == "done" and done["project"] == "demo", done
    assert done == http.get(f"/api/v1/projects/demo/jobs/{job['id']}", headers=auth(demo_reader)).json()
    assert http.get(f"/api/v1/jobs/{job['id']}", headers=auth(tokens["reader"])).json()["id"] == job["id"]
    # A key for another project gets the answer a made-up id gets: the id tells it nothing.
    hidden, unknown = (http.get(f"/api/v1/jobs/{i}", headers=auth(other_reader)) for i in (job["id"], "0" * 32))
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
    assert hidden.json()["error"]["message"] == f"No job {job['id']!r}."
    assert http.get("/api/v1/jobs/not-an-id", headers=admin).status_code == 422
    assert http.get(f"/api/v1/jobs/{job['id']}").status_code == 401


def test_several_workers_without_redis_refuse_jobs_clearly(prism_home: Path) -> None:
    app = create_app(ServerSettings(api_secret=API_SECRET, environment="development", workers=2),
                     Settings(home=prism_home, embedder="hashing"))
    token = app.state.prism.keys.create("admin", "admin")[1]
    with TestClient(app) as http:
        assert http.post("/api/v1/projects", json={"name": "demo"}, headers=auth(token)).status_code == 201
        refused = http.post("/api/v1/projects/demo/jobs", json={}, headers=auth(token))
    assert refused.status_code == 503, refused.text
    assert "need Redis" in refused.json()["error"]["message"]
    assert "PRISM_REDIS_URL" in refused.json()["error"]["details"]["hint"]


def test_metrics_count_what_index_runs_wrote_and_the_job_backlog(client: tuple[TestClient, dict[str, str]]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    http, tokens = client
    admin = auth(tokens["admin"])

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = http.get("/metrics", headers=admin).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    assert http.post("/api/v1/projects", json={"name": "demo"}, headers=admin).status_code == 201
    before = scrape()  # on Redis the queue is the session's: other tests' leftovers count, so compare
    body = {"files": [{"path": "auth.py", "content": APP_PY}, {"path": "two.py", "content": "X = 1\n"}]}
    uploaded = http.post("/api/v1/projects/demo/index", json=body, headers=admin).json()["report"]
    job = http.post("/api/v1/projects/demo/jobs", json={"force": True}, headers=admin).json()
    done = poll(http, f"/api/v1/projects/demo/jobs/{job['id']}", tokens["admin"])
    assert done["state"] == "done", done
    after = scrape()

    def grew(name: str) -> float:
        return after[(name, ())] - before.get((name, ()), 0.0)

    assert uploaded["files_indexed"] == 2 and done["result"]["files_indexed"] == 2
    assert grew("prism_indexed_files_total") == 4
    assert grew("prism_indexed_chunks_total") == uploaded["chunks_written"] + done["result"]["chunks_written"]
    assert grew("prism_indexed_tokens_total") == uploaded["tokens_written"] + done["result"]["tokens_written"] > 0
    assert grew("prism_index_duration_seconds_count") == 2
    for state in ("queued", "running"):
        gauge = ("prism_index_jobs", (("state", state),))
        assert after[gauge] == before[gauge]
