"""Uploaded projects across hosts: files sent to replica A are read by replica B and re-indexed by a
`prism worker`, each with a PRISM_HOME of its own, sharing one PostgreSQL (and Redis for the jobs).

A's own copy of the files is removed before B or the worker reads, so they can only have read what
the shared store holds; every read still passes the engine's checks (an ignored file is refused).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.e2e.conftest import reap, start_worker
from tests.e2e.test_scale_out import redis_database

from prism.config import Settings
from prism.serve.http.app import create_app
from prism.serve.http.settings import ServerSettings
from prism.serve.http.uploads import sha256
from services import scratch_database

API_SECRET = "shared-uploads-secret-" + "u" * 40
REDIS_DB = 8  # this module's own keyspace (the job queue's keys have a fixed prefix)
AUTH_PY = "def refresh_token(user):\n    '''Refresh the access token.'''\n    return user.token + 1\n"
AUTH_PY_2 = "def refresh_token(user):\n    '''Rotate, then refresh.'''\n    return user.rotate() + 2\n"
UTIL_PY = "def slugify(text):\n    return text.lower().replace(' ', '-')\n"
SECRET = "AKIA" + "Z" * 16


@dataclass
class Hosts:
    a: TestClient
    b: TestClient
    homes: dict[str, Path]
    database: str
    redis: str
    headers: dict[str, str]

    def upload(self, files: dict[str, str], delete: tuple[str, ...] = ()) -> dict[str, Any]:
        body = {"files": [{"path": path, "content": content} for path, content in files.items()],
                "delete": list(delete)}
        # json.dumps escapes a lone surrogate (\\ud800), as a client sending invalid UTF-8 text would.
        answer = self.a.post("/api/v1/projects/demo/index", content=json.dumps(body),
                             headers={**self.headers, "Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def code(self, client: TestClient, ref: str) -> Any:
        return client.get("/api/v1/projects/demo/code", params={"ref": ref}, headers=self.headers)


@pytest.fixture
def hosts(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[Hosts]:
    redis = redis_database(redis_url, REDIS_DB)
    import redis as redis_client

    flushed = redis_client.Redis.from_url(redis)
    flushed.flushdb()
    flushed.close()
    homes = {name: tmp_path / name for name in ("a", "b", "worker")}
    with scratch_database(postgres_url) as database:
        apps = [create_app(ServerSettings(api_secret=API_SECRET, redis_url=redis, max_upload_file_bytes=10_000),
                           Settings(home=homes[name], embedder="hashing", database_url=database), load_model=False)
                for name in ("a", "b")]
        with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
            _, token = a.app.state.prism.keys.create("admin", "admin")  # type: ignore[attr-defined]
            headers = {"Authorization": f"Bearer {token}"}
            assert a.post("/api/v1/projects", json={"name": "demo"}, headers=headers).status_code == 201
            yield Hosts(a, b, homes, database, redis, headers)


def forget_a_copy(hosts: Hosts) -> None:
    """Remove A's copy of the uploaded files: whoever reads now reads the shared store."""
    shutil.rmtree(hosts.homes["a"] / "server" / "files")


def test_files_uploaded_through_a_are_read_and_packed_through_b(hosts: Hosts) -> None:
    uploaded = hosts.upload({"src/auth.py": AUTH_PY, "src/util.py": UTIL_PY, ".gitignore": ".env\n",
                             ".env": f"KEY={SECRET}\n", ".git/config": f"url = https://{SECRET}@example\n"})
    assert {f["status"] for f in uploaded["files"]} == {"written"}
    forget_a_copy(hosts)

    read = hosts.code(hosts.b, "src/auth.py:1-3")
    assert read.status_code == 200, read.text
    assert "def refresh_token" in read.json()["pieces"][0]["content"]
    assert (hosts.homes["b"] / "server" / "files" / "demo" / "src" / "auth.py").read_text() == AUTH_PY
    pack = hosts.b.post("/api/v1/projects/demo/context", json={"query": "refresh the access token"},
                        headers=hosts.headers)
    assert pack.status_code == 200 and "user.token + 1" in pack.json()["text"], pack.text
    for ref in (".env:1", ".git/config:1"):  # stored and checked out, but the index admits neither
        refused = hosts.code(hosts.b, ref)
        assert refused.status_code == 400 and SECRET not in refused.text, (ref, refused.text)

    # A re-upload of a changed file (and a deletion) through A is what B reads next.
    changed = hosts.upload({"src/auth.py": AUTH_PY_2, "src/util.py": UTIL_PY}, delete=(".env",))
    assert {f["path"]: f["status"] for f in changed["files"]} == {
        "src/auth.py": "written", "src/util.py": "unchanged", ".env": "deleted"}
    again = hosts.code(hosts.b, "src/auth.py:1-3")
    assert "user.rotate() + 2" in again.json()["pieces"][0]["content"], again.text
    found = hosts.b.post("/api/v1/projects/demo/search", json={"query": "rotate then refresh"},
                         headers=hosts.headers).json()["results"]
    assert found and found[0]["path"] == "src/auth.py"
    assert not (hosts.homes["b"] / "server" / "files" / "demo" / ".env").exists()


def test_a_worker_on_a_third_home_reindexes_the_uploaded_files(hosts: Hosts) -> None:
    hosts.upload({"src/auth.py": AUTH_PY, "src/util.py": UTIL_PY})
    forget_a_copy(hosts)
    worker = start_worker(hosts.redis, "uploads-worker", "--max-jobs", "1", PRISM_HOME=str(hosts.homes["worker"]),
                          PRISM_DATABASE_URL=hosts.database, PRISM_EMBEDDER="hashing")
    try:
        queued = hosts.a.post("/api/v1/projects/demo/jobs", json={"force": True}, headers=hosts.headers)
        assert queued.status_code == 202, queued.text
        url = f"/api/v1/projects/demo/jobs/{queued.json()['id']}"
        deadline = time.monotonic() + 120
        while (job := hosts.b.get(url, headers=hosts.headers).json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["state"] == "done", job
        assert job["result"]["files_indexed"] == 2  # forced: it read both files, from its own checkout
        _, stderr = worker.communicate(timeout=60)
        assert worker.returncode == 0, stderr
    finally:
        reap([worker])
    assert (hosts.homes["worker"] / "server" / "files" / "demo" / "src" / "util.py").read_text() == UTIL_PY
    assert hosts.b.get("/api/v1/projects/demo", headers=hosts.headers).json()["state"] == "ready"


def test_bad_files_fail_alone_and_deleting_the_project_removes_its_blobs(hosts: Hosts) -> None:
    uploaded = hosts.upload({"ok.py": UTIL_PY, "../escape.py": "x = 1\n", "big.py": "x" * 20_000,
                             "bin.dat": "a\x00b", "bad.py": "s = '\ud800'\n", "/etc/passwd": "root\n"})
    statuses = {f["path"]: (f["status"], f["reason"]) for f in uploaded["files"]}
    assert statuses["ok.py"] == ("written", "")
    assert all(status == "failed" and reason for path, (status, reason) in statuses.items() if path != "ok.py")
    assert "climbs out" in statuses["../escape.py"][1] and "limit" in statuses["big.py"][1]
    assert "binary" in statuses["bin.dat"][1] and "UTF-8" in statuses["bad.py"][1]
    assert hosts.b.app.state.prism.projects.files.sizes("demo") == {"ok.py": len(UTIL_PY)}  # type: ignore[attr-defined]

    deleted = hosts.b.delete("/api/v1/projects/demo", headers=hosts.headers)
    assert deleted.status_code == 200, deleted.text
    with psycopg.connect(hosts.database) as conn:
        for table in ("prism_server_files", "prism_server_blobs", "prism_server_file_sets", "prism_chunks"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}".encode()).fetchone() == (0,), table
    assert hosts.code(hosts.a, "ok.py:1").status_code == 404  # A learns it is gone, and drops its copy
    assert not (hosts.homes["a"] / "server" / "files" / "demo").exists()


def test_a_checkout_writes_no_path_out_of_the_project_and_no_blob_that_fails_its_hash(hosts: Hosts) -> None:
    hosts.upload({"ok.py": UTIL_PY, "auth.py": AUTH_PY})
    # What only someone writing to the database by hand could store: a climbing path, a forged blob.
    forged = b"import os; os.system('rm -rf ~')\n"
    outside = hosts.homes["b"].parent / "absolute.py"
    with psycopg.connect(hosts.database) as conn:
        conn.execute("INSERT INTO prism_server_blobs (project, sha256, data) VALUES ('demo', %s, %s)",
                     (sha256(b"x = 1\n"), b"x = 1\n"))
        for path in ("../../escape.py", str(outside)):
            conn.execute("INSERT INTO prism_server_files (project, path, sha256, size) VALUES ('demo', %s, %s, 6)",
                         (path, sha256(b"x = 1\n")))
        conn.execute("UPDATE prism_server_blobs SET data = %s WHERE project = 'demo' AND sha256 = %s",
                     (forged, sha256(AUTH_PY.encode())))
        conn.execute("UPDATE prism_server_file_sets SET version = 'forged'")
    served = hosts.code(hosts.b, "ok.py:1-2")
    assert served.status_code == 200 and "slugify" in served.json()["pieces"][0]["content"]
    home_b = hosts.homes["b"]
    assert not any(p.name in ("escape.py", "absolute.py") for p in home_b.parent.rglob("*.py"))
    assert not (home_b / "server" / "files" / "demo" / "auth.py").exists()  # the forged content is not written


def test_the_replica_that_received_an_upload_does_not_download_it_again(
        hosts: Hosts, monkeypatch: pytest.MonkeyPatch) -> None:
    files = hosts.a.app.state.prism.projects.files  # type: ignore[attr-defined]

    def no_download(*args: object) -> str:
        raise AssertionError("replica A downloaded the files it had just stored")

    monkeypatch.setattr(files, "_sync", no_download)
    hosts.upload({"src/auth.py": AUTH_PY, "pkg/util.py": UTIL_PY})
    hosts.upload({"src/auth.py": AUTH_PY_2}, delete=("pkg/util.py",))
    assert "user.rotate() + 2" in hosts.code(hosts.a, "src/auth.py:1-3").json()["pieces"][0]["content"]
    copy = hosts.homes["a"] / "server" / "files" / "demo"
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*")) == ["src", "src/auth.py"]
    assert "user.rotate() + 2" in hosts.code(hosts.b, "src/auth.py:1-3").json()["pieces"][0]["content"]
    assert not (hosts.homes["b"] / "server" / "files" / "demo" / "pkg").exists()


def test_files_an_older_version_kept_on_the_replica_s_disk_are_stored_not_removed(hosts: Hosts) -> None:
    legacy = hosts.homes["a"] / "server" / "files" / "demo" / "src"  # where uploads lived before
    legacy.mkdir(parents=True, exist_ok=True)
    (legacy / "legacy.py").write_text(UTIL_PY)
    indexed = hosts.upload({})  # an index request without files, through the replica that holds them
    assert indexed["report"]["files_indexed"] == 1
    assert (legacy / "legacy.py").read_text() == UTIL_PY
    read = hosts.code(hosts.b, "src/legacy.py:1-2")
    assert read.status_code == 200 and "slugify" in read.json()["pieces"][0]["content"], read.text


def test_reading_only_the_index_downloads_no_files(hosts: Hosts) -> None:
    hosts.upload({"src/auth.py": AUTH_PY})
    projects = hosts.b.app.state.prism.projects  # type: ignore[attr-defined]
    assert projects.engine("demo", files=False).store.stats()["files"] == 1  # the metrics' read
    assert list((hosts.homes["b"] / "server" / "files" / "demo").iterdir()) == []
    assert hosts.code(hosts.b, "src/auth.py:1").status_code == 200  # a read of code checks them out
    assert (hosts.homes["b"] / "server" / "files" / "demo" / "src" / "auth.py").is_file()
