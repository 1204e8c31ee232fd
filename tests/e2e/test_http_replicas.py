"""Two `prism serve` replicas on one Redis: a key's rate limit is enforced globally, exactly, under concurrency.

The replicas share PRISM_HOME for their keys (server.db; a shared PostgreSQL store is the other
half of scale-out) but nothing else: each is its own process on its own port, and with
PRISM_REDIS_URL set their buckets live in Redis (no ratelimit.db is written).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from prism.serve.http.db import ServerDB
from prism.serve.http.keys import KeyStore
from prism.serve.secrets import SecretBox
from services import free_port

API_SECRET = "replicas-secret-" + "r" * 40
READER_BURST = 6  # a bucket of 6 refilled one token per 100 s: nothing refills during the test


@pytest.fixture
def replicas(prism_home: Path, tmp_path: Path, redis_url: str) -> Iterator[tuple[list[str], str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PRISM_RATE_BACKEND", "PRISM_WORKERS")}
    env.update({"PRISM_API_SECRET": API_SECRET, "PRISM_ENVIRONMENT": "development", "PRISM_EMBEDDER": "hashing",
                "PRISM_RATE_READER": f"{READER_BURST}/{READER_BURST * 100}", "PRISM_HOME": str(prism_home),
                "PRISM_REDIS_URL": redis_url})
    # The rate-limit keys are per API key id: a fresh key per test keeps the session's Redis clean.
    _, secret = KeyStore(ServerDB(prism_home / "server" / "server.db"), SecretBox(API_SECRET)).create("ci", "reader")
    procs: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        for n in range(2):
            port = free_port()
            with (tmp_path / f"replica{n}.log").open("wb") as sink:
                procs.append(subprocess.Popen([sys.executable, "-m", "prism", "serve", "--port", str(port)],
                                              env=env, stdout=sink, stderr=subprocess.STDOUT))
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for n, base in enumerate(bases):
            while True:
                assert procs[n].poll() is None, (tmp_path / f"replica{n}.log").read_text()
                try:
                    if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / f"replica{n}.log").read_text()
                time.sleep(0.1)
        yield bases, secret
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
