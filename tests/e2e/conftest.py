"""Real `prism serve` and `prism worker` subprocesses for the end-to-end tests that need a socket, a kill -9
or a CLI client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from prism.serve.http.keys import KeyStore
from prism.serve.http.server_store import open_server_store
from prism.serve.http.settings import Role
from prism.serve.secrets import SecretBox

API_SECRET = "e2e-secret-Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e"
WORKER_VISIBILITY_S = "2"  # a killed worker's job is taken over this soon


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_key(home: Path, database_url: str | None = None, role: Role = "admin") -> str:
    """A new API key (admin unless `role` says otherwise) in the server store `prism keys create`
    would use: `home`'s server.db, or the PostgreSQL database at `database_url`."""
    store = open_server_store(home / "server", database_url)
    secret = KeyStore(store, SecretBox(API_SECRET)).create(role, role)[1]
    store.close()
    return secret


@contextmanager
def serve(home: Path, log: Path, **settings: str) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """A running `prism serve` (one worker; `settings` are extra environment variables); stopped
    (SIGTERM, then SIGKILL) on exit unless the test killed it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PRISM_RATE_BACKEND", "PRISM_WORKERS")}
    env.update({"PRISM_API_SECRET": API_SECRET, "PRISM_ENVIRONMENT": "development", "PRISM_HOME": str(home),
                "PRISM_EMBEDDER": "hashing", "PRISM_RATE_ADMIN": "100000/1", **settings})
    port = free_port()
    with log.open("a", encoding="utf-8") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "prism", "serve", "--port", str(port)], env=env,
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            try:
                if client.get("/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.05)
        yield client, proc
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start_worker(redis_url: str, name: str, *extra: str, **settings: str) -> subprocess.Popen[str]:
    """A `prism worker --json` on `redis_url` (`settings`: extra environment variables); stdout is its report."""
    env = {**os.environ, "PRISM_REDIS_URL": redis_url, **settings}
    return subprocess.Popen([sys.executable, "-m", "prism", "worker", "--name", name,
                             "--visibility-timeout", WORKER_VISIBILITY_S, "--json", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def reap(procs: list[subprocess.Popen[str]]) -> None:
    """Kill what still runs and close every pipe (a test that failed midway leaves no process behind)."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
