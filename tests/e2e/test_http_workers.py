"""`prism serve --workers 2` for real: one rate bucket across workers, revocation, projects and index locks in both.

The server runs as a subprocess on a free loopback port. Each worker's JSON log lines carry its
pid, so every request id is traced to the worker that answered it, and each check asserts that
both workers took part rather than trusting the kernel to spread connections.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from prism.index.indexer import index_lock
from prism.serve.http.db import ServerDB
from prism.serve.http.keys import KeyStore
from prism.serve.secrets import SecretBox

API_SECRET = "workers-secret-" + "w" * 40
READER_RATE = (4, 600)  # a bucket of 4, refilled one token per 150 s: nothing refills during the test


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str, keep_alive: tuple[httpx.Client, ...] = ()) -> dict[str, Any]:
    """Run `prism … --json`, pinging `keep_alive` meanwhile so uvicorn does not close those idle connections."""
    proc = subprocess.Popen([sys.executable, "-m", "prism", *args, "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:
        for client in keep_alive:
            client.get("/health")
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    result: dict[str, Any] = json.loads(stdout)
    return result


@dataclass
class Server:
    """A running `prism serve --workers 2`, its log, and one keep-alive connection per worker."""

    base: str
    log: Path
    env: dict[str, str]
    keys: dict[str, tuple[str, str]]  # name → (key id, api key)
    by_pid: dict[int, httpx.Client] = field(default_factory=dict)

    def pids_of(self, request_ids: list[str], timeout_s: float = 10.0) -> dict[str, int]:
        """The worker pid that logged each request id (access lines are written just after the response)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found: dict[str, int] = {}
            for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("request_id") in request_ids and "pid" in record:
                    found[record["request_id"]] = int(record["pid"])
            if len(found) == len(set(request_ids)) or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def get(self, client: httpx.Client, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[key][1]}"} if key else {}
        return client.request(kwargs.pop("method", "GET"), path, headers=headers, **kwargs)


def connect_to_both_workers(server: Server, timeout_s: float = 15.0) -> None:
    """Open keep-alive connections until two of them are served by different worker processes."""
    deadline = time.monotonic() + timeout_s
    while len(server.by_pid) < 2:
        assert time.monotonic() < deadline, f"only worker(s) {sorted(server.by_pid)} answered"
        clients = [httpx.Client(base_url=server.base, limits=httpx.Limits(max_connections=1), timeout=30)
                   for _ in range(4)]
        ids = [c.get("/health").headers["x-request-id"] for c in clients]
        pids = server.pids_of(ids)
        for client, request_id in zip(clients, ids, strict=True):
            pid = pids.get(request_id)
            if pid is not None and pid not in server.by_pid:
                server.by_pid[pid] = client
            else:
                client.close()
        if len(server.by_pid) < 2:
            time.sleep(0.1)  # the second worker may still be starting


@pytest.fixture
def server(prism_home: Path, tmp_path: Path) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if k not in ("PRISM_RATE_BACKEND", "PRISM_WORKERS")}
    env.update({"PRISM_API_SECRET": API_SECRET, "PRISM_ENVIRONMENT": "development",
                "PRISM_RATE_READER": f"{READER_RATE[0]}/{READER_RATE[1]}", "PRISM_EMBEDDER": "hashing",
                "PRISM_HOME": str(prism_home)})
    store = KeyStore(ServerDB(prism_home / "server" / "server.db"), SecretBox(API_SECRET))  # as the CLI does
    keys = {}
    for name, role in (("reader", "reader"), ("victim", "writer"), ("admin", "admin")):
        key, secret = store.create(name, role)
        keys[name] = (key.key_id, secret)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "prism", "serve", "--port", str(port), "--workers", "2"],
                                env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    running = Server(f"http://127.0.0.1:{port}", log, env, keys)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            try:
                if httpx.get(f"{running.base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.1)
        connect_to_both_workers(running)
        yield running
    finally:
        for client in running.by_pid.values():
            client.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_two_workers_share_limits_revocations_projects_and_locks(server: Server, prism_home: Path) -> None:
    first, second = server.by_pid.values()

    # 1. One reader bucket for the whole server: 10 requests alternating between the workers.
    responses = [server.get(client, "/api/v1/projects", "reader") for client in [first, second] * 5]
    pids = server.pids_of([r.headers["x-request-id"] for r in responses])
    assert len(set(pids.values())) == 2, pids
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == READER_RATE[0] and statuses.count(429) == 10 - READER_RATE[0], statuses
    assert statuses[:READER_RATE[0]] == [200] * READER_RATE[0]
    refused = responses[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 100 and refused.headers["RateLimit-Remaining"] == "0"
    assert (prism_home / "server" / "ratelimit.db").is_file()

    # 2. A key revoked with the CLI is refused at once by both workers (each had just accepted it).
    assert [server.get(c, "/api/v1/projects", "victim").status_code for c in (first, second)] == [200, 200]
    cli(server.env, "keys", "revoke", server.keys["victim"][0], keep_alive=(first, second))
    after = [server.get(c, "/api/v1/projects", "victim") for c in (first, second)]
    assert [r.status_code for r in after] == [401, 401]
    assert {r.json()["error"]["code"] for r in after} == {"key_revoked"}
    assert len(set(server.pids_of([r.headers["x-request-id"] for r in after]).values())) == 2

    # 3. A project created through one worker is visible through the other.
    created = server.get(first, "/api/v1/projects", "admin", method="POST", json={"name": "demo"})
    assert created.status_code == 201, created.text
    listed = server.get(second, "/api/v1/projects", "admin").json()["projects"]
    assert [p["name"] for p in listed] == ["demo"]

    # 4. While another process indexes the project, both workers answer 409 index_locked; then one indexes.
    body = {"files": [{"path": "app.py", "content": "def refresh_token(user):\n    return user\n"}]}
    with index_lock(prism_home / "server" / "indexes" / "demo"):
        locked = [server.get(c, "/api/v1/projects/demo/index", "admin", method="POST", json=body)
                  for c in (first, second)]
        assert [r.status_code for r in locked] == [409, 409]
        assert {r.json()["error"]["code"] for r in locked} == {"index_locked"}
    indexed = server.get(second, "/api/v1/projects/demo/index", "admin", method="POST", json=body)
    assert indexed.status_code == 200, indexed.text
    found = server.get(first, "/api/v1/projects/demo/search", "admin", method="POST",
                       json={"query": "refresh token"})
    assert found.status_code == 200 and found.json()["results"], found.text

    # 5. Both workers are ready.
    assert [c.get("/ready").status_code for c in (first, second)] == [200, 200]


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced_and_connections_spread_over_both(server: Server) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("one SO_REUSEPORT socket per worker is the Linux path")
    # New connections land on both workers without help (one SO_REUSEPORT socket each).
    clients = [httpx.Client(base_url=server.base, timeout=30) for _ in range(16)]
    ids = [c.get("/health").headers["x-request-id"] for c in clients]
    assert len(set(server.pids_of(ids).values())) == 2
    for client in clients:
        client.close()

    victim = next(iter(server.by_pid))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    replacement: set[int] = set()
    while not replacement:
        assert time.monotonic() < deadline, server.log.read_text(encoding="utf-8")
        fresh = [httpx.Client(base_url=server.base, timeout=30) for _ in range(8)]
        try:
            ids = [c.get("/health").headers["x-request-id"] for c in fresh]  # never refused meanwhile
        finally:
            for client in fresh:
                client.close()
        replacement = set(server.pids_of(ids).values()) - set(server.by_pid)
    assert f"worker {victim} exited" in server.log.read_text(encoding="utf-8")
