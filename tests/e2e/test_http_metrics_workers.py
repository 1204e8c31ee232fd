"""/metrics and the meter under `prism serve --workers 2`: what any worker reports equals what clients sent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.test_http_workers import Server, server  # noqa: F401  (the 2-worker server fixture)

SENT = {"/api/v1/projects": 7, "/api/v1/keys": 3}


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name}


@pytest.mark.slow
def test_metrics_and_meter_count_every_worker(server: Server, prism_home: Path) -> None:  # noqa: F811
    first, second = server.by_pid.values()
    ids = []
    for route, n in SENT.items():
        for i in range(n):
            response = server.get((first, second)[i % 2], route, "admin")
            assert response.status_code == 200, response.text
            ids.append(response.headers["x-request-id"])
    assert len(set(server.pids_of(ids).values())) == 2  # both workers answered some
    assert (prism_home / "server" / "metrics").is_dir()

    for client in (first, second):  # any worker's scrape tells the whole server's story
        scrape = server.get(client, "/metrics", "admin")
        assert scrape.status_code == 200
        counts = samples(scrape.text, "prism_http_requests_total")
        latency = samples(scrape.text, "prism_http_request_seconds_count")
        for route, n in SENT.items():
            assert counts[(("method", "GET"), ("route", route), ("status", "200"))] == n
            assert latency[(("route", route), ("status", "200"))] == n

    deadline = time.monotonic() + 10  # each worker writes its meter batch within a second
    while True:
        rows = server.get(first, "/api/v1/usage", "admin").json()["usage"]
        metered = {route: sum(r["requests"] for r in rows if r["route"] == route) for route in SENT}
        if metered == SENT or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert metered == SENT
