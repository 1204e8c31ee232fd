"""What one server meters, in-process: tokens, cache hits and index gauges in /metrics, the same in /usage."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.test_http import auth, make_indexed, server_settings

from prism.config import Settings
from prism.serve.http.app import create_app


def scrape(client: TestClient, token: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics", headers=auth(token)).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_tokens_cache_hits_and_index_sizes_are_metered(prism_home: Path) -> None:
    app = create_app(server_settings(rate_reader="1/600"), Settings(home=prism_home, embedder="hashing"))
    key, admin = app.state.prism.keys.create("admin", "admin")
    reader = app.state.prism.keys.create("reader", "reader")[1]
    with TestClient(app) as client:
        make_indexed(client, admin)
        limited = [client.get("/api/v1/projects", headers=auth(reader)).status_code for _ in range(2)]
        packs = [client.post("/api/v1/projects/demo/context", headers=auth(admin),
                             json={"query": "refresh token", "budget_tokens": 400}).json() for _ in range(2)]
        for _ in range(3):
            assert client.post("/api/v1/projects/demo/search", headers=auth(admin),
                               json={"query": "login session"}).status_code == 200
        metrics = scrape(client, admin)
        usage = client.get("/api/v1/usage", headers=auth(admin)).json()["usage"]

    assert limited == [200, 429]
    assert metrics[("prism_work_total", (("metric", "rate_limited"),))] == 1
    served = sum(p["tokens"] for p in packs)
    assert metrics[("prism_work_total", (("metric", "tokens_served"),))] == served
    # the first pack misses (and so does the search inside it); the second pack and the last two searches hit
    assert metrics[("prism_work_total", (("metric", "cache_hits"),))] == 3
    assert metrics[("prism_work_total", (("metric", "cache_misses"),))] == 3
    assert metrics[("prism_work_total", (("metric", "embeddings"),))] >= 1
    assert metrics[("prism_operation_seconds_count", (("operation", "context"),))] == 2
    assert metrics[("prism_operation_seconds_count", (("operation", "search"),))] == 3
    assert metrics[("prism_index_chunks", (("project", "demo"),))] >= 2
    assert 0 <= metrics[("prism_index_age_seconds", (("project", "demo"),))] < 600

    rows = {(r["project"], r["route"]): r for r in usage if r["principal"] == f"key:{key.key_id}"}
    context_row = rows[("demo", "/api/v1/projects/{project}/context")]
    assert context_row["requests"] == 2 and context_row["work"]["context_packs"] == 2
    assert context_row["work"]["tokens_served"] == served
    assert rows[("demo", "/api/v1/projects/{project}/search")]["work"]["searches"] == 3
    assert json.dumps(usage)  # the answer is plain JSON
