"""`prism serve` and its PRISM_HOME for real: private files, and the truth after `kill -9` mid-upload.

The server runs as a subprocess on a free loopback port (one worker); the admin key is made
beforehand with the key store, as `prism keys create` does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import admin_key, serve

FILES = 400


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
