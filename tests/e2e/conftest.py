"""A real `prism serve` subprocess for the end-to-end tests that need a socket, a kill -9 or a CLI client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from prism.serve.http.db import ServerDB
from prism.serve.http.keys import KeyStore
from prism.serve.secrets import SecretBox

API_SECRET = "e2e-secret-Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_key(home: Path) -> str:
    """A new admin API key in `home`'s server database, made as `prism keys create` makes it."""
    db = ServerDB(home / "server" / "server.db")
    secret = KeyStore(db, SecretBox(API_SECRET)).create("admin", "admin")[1]
    db.close()
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
