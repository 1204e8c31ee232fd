"""`prism serve` and its PRISM_HOME for real: private files, and the truth after `kill -9` mid-upload.

The server runs as a subprocess on a free loopback port (one worker); the admin key is made
beforehand with the key store, as `prism keys create` does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from prism.serve.http.db import ServerDB
from prism.serve.http.keys import KeyStore
from prism.serve.secrets import SecretBox

API_SECRET = "home-secret-Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e"
FILES = 400


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_key(home: Path) -> str:
    db = ServerDB(home / "server" / "server.db")
    secret = KeyStore(db, SecretBox(API_SECRET)).create("admin", "admin")[1]
    db.close()
    return secret


@contextmanager
def serve(home: Path, log: Path) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """A running `prism serve`; stopped (SIGTERM, then SIGKILL) on exit unless the test killed it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PRISM_RATE_BACKEND", "PRISM_WORKERS")}
    env.update({"PRISM_API_SECRET": API_SECRET, "PRISM_ENVIRONMENT": "development", "PRISM_HOME": str(home),
                "PRISM_EMBEDDER": "hashing", "PRISM_RATE_ADMIN": "100000/1"})
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


def source_files(count: int) -> list[dict[str, str]]:
    body = "".join(f"def handler_{i}(request):\n    return request.value + {i}\n\n\n" for i in range(12))
    return [{"path": f"pkg/mod_{n:03d}.py", "content": f"'''Module {n}.'''\n\n{body}"} for n in range(count)]


def open_to_others(folder: Path) -> list[str]:
    found = []
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if not path.is_symlink() and mode & 0o077:
            found.append(f"{path.relative_to(folder)} {mode:o}")
    return found


@pytest.mark.slow
def test_the_server_keeps_its_home_private_and_fixes_an_older_one(prism_home: Path, tmp_path: Path) -> None:
    key = admin_key(prism_home)
    server = prism_home / "server"
    # What an older version left: a world-readable database, folder and uploaded file.
    os.chmod(server, 0o755)
    os.chmod(server / "server.db", 0o644)
    (server / "files" / "old").mkdir(parents=True, mode=0o755)
    (server / "files" / "old" / "a.py").write_text("A = 1\n")
    os.chmod(server / "files" / "old" / "a.py", 0o644)
    headers = {"Authorization": f"Bearer {key}"}
    with serve(prism_home, tmp_path / "server.log") as (client, _):
        assert client.post("/api/v1/projects", json={"name": "demo"}, headers=headers).status_code == 201
        indexed = client.post("/api/v1/projects/demo/index", json={"files": source_files(3)}, headers=headers)
        assert indexed.status_code == 200, indexed.text
        created = {p.name for p in server.rglob("*")}
        assert {"server.db-wal", "server.db-shm", "index.db", "index.lock"} <= created
        assert open_to_others(server) == []
    assert open_to_others(server) == []


@pytest.mark.slow
def test_kill_9_during_indexing_never_leaves_a_project_claiming_an_index_it_lacks(prism_home: Path,
                                                                                 tmp_path: Path) -> None:
    key = admin_key(prism_home)
    headers = {"Authorization": f"Bearer {key}"}
    index_db = prism_home / "server" / "indexes" / "demo" / "index.db"
    log = tmp_path / "server.log"
    with serve(prism_home, log) as (client, proc):
        assert client.post("/api/v1/projects", json={"name": "demo"}, headers=headers).status_code == 201
        upload = threading.Thread(target=lambda: _post_quietly(client, headers), daemon=True)
        upload.start()
        deadline = time.monotonic() + 60
        while not index_db.exists():  # the upload is written and indexing has begun
            assert time.monotonic() < deadline and upload.is_alive(), log.read_text(encoding="utf-8")
            time.sleep(0.002)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        upload.join(30)

    seen = []
    with serve(prism_home, log) as (client, _):
        deadline = time.monotonic() + 90
        while True:
            project = client.get("/api/v1/projects/demo", headers=headers).json()
            stats = client.get("/api/v1/projects/demo/stats", headers=headers)  # after: completion only grows
            assert stats.status_code in (200, 409), stats.text
            files = stats.json()["stats"]["files"] if stats.status_code == 200 else None
            seen.append((project["indexed"], project.get("state"), files))
            # The lie the probe found: `indexed: true` while the index holds fewer files than were sent.
            assert not project["indexed"] or files == FILES, seen
            if project.get("state") == "ready":
                break
            assert project.get("state") in ("indexing_interrupted", "indexing"), seen
            assert time.monotonic() < deadline, (seen[-3:], log.read_text(encoding="utf-8")[-3000:])
            time.sleep(0.1)
    assert seen[-1] == (True, "ready", FILES)  # the interrupted indexing was finished at start
    assert "indexing was interrupted" in log.read_text(encoding="utf-8")


def _post_quietly(client: httpx.Client, headers: dict[str, str]) -> None:
    with contextlib.suppress(httpx.TransportError):  # the server is killed under it
        client.post("/api/v1/projects/demo/index", json={"files": source_files(FILES)}, headers=headers)
