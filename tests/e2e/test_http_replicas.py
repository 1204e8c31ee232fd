"""Two `prism serve` replicas on one Redis: a key's rate limit is enforced globally, exactly, under concurrency.

The replicas share PRISM_HOME for their keys (server.db; tests/e2e/test_scale_out.py runs
replicas that share nothing but PostgreSQL and Redis) but nothing else: each is its own process
on its own port, and with PRISM_REDIS_URL set their buckets live in Redis (no ratelimit.db is
written).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import admin_key, serve

READER_BURST = 6  # a bucket of 6 refilled one token per 100 s: nothing refills during the test


@pytest.fixture
def replicas(prism_home: Path, tmp_path: Path, redis_url: str) -> Iterator[tuple[list[str], str]]:
    # The rate-limit keys are per API key id: a fresh key per test keeps the session's Redis clean.
    secret = admin_key(prism_home, role="reader")
    with ExitStack() as stack:
        servers = [stack.enter_context(serve(prism_home, tmp_path / f"replica{n}.log", PRISM_REDIS_URL=redis_url,
                                             PRISM_RATE_READER=f"{READER_BURST}/{READER_BURST * 100}"))
                   for n in range(2)]
        yield [str(client.base_url) for client, _ in servers], secret


def test_a_rate_limit_is_exact_across_two_replicas(replicas: tuple[list[str], str], prism_home: Path) -> None:
    bases, secret = replicas
    headers = {"Authorization": f"Bearer {secret}"}
    clients = [httpx.Client(base_url=base, headers=headers, timeout=30) for base in bases]

    def call(n: int) -> tuple[int, int]:
        return n % 2, clients[n % 2].get("/api/v1/projects").status_code

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:  # 24 concurrent requests, half to each replica
            results = list(pool.map(call, range(24)))
    finally:
        for client in clients:
            client.close()
    statuses = [status for _, status in results]
    assert statuses.count(200) == READER_BURST and statuses.count(429) == 24 - READER_BURST, statuses
    assert {replica for replica, _ in results} == {0, 1}
    assert not (prism_home / "server" / "ratelimit.db").exists()  # the buckets are in Redis
