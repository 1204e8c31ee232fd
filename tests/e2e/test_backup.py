"""Backups of a serving home: taken while 8 clients search and one indexes over HTTP, verified,
restored into a new home and found equal (counts, hashes, search results, keys); damage caught."""

from __future__ import annotations

import json
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from prism.config import Settings
from prism.engine import Prism
from prism.errors import BackupError
from prism.index.sqlite import SqliteStore
from prism.ops.backup import MANIFEST, sha256_file
from prism.ops.restore import restore_backup, verify_backup
from prism.serve.cli import app as cli_app
from prism.serve.http.app import create_app
from prism.serve.http.db import ServerDB
from prism.serve.http.settings import ServerSettings

API_SECRET = "api-secret-" + "c" * 40
SEARCHERS = 8
QUERIES = ("refresh token", "parse config", "Session login", "cache entry", "module 7")


def module(n: int, version: int = 0) -> str:
    return (f"def refresh_token_{n}(user):\n    '''Refresh token {n} of the user, version {version}.'''\n"
            f"    return user.token + {n + version}\n\n\n"
            f"class Session{n}:\n    def login(self, name):\n        return parse_config_{n}(name)\n\n\n"
            f"def parse_config_{n}(text):\n    '''Parse config {n}: module {n} cache entry.'''\n"
            f"    return text.split('=')\n")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def serving(home: Path) -> Any:
    return create_app(ServerSettings(api_secret=API_SECRET, environment="development"),  # type: ignore[call-arg]
                      Settings(home=home, embedder="hashing"), load_model=False)


@pytest.fixture
def served(prism_home: Path) -> Iterator[tuple[TestClient, str, str]]:
    app = serving(prism_home)
    keys = app.state.prism.keys
    admin, reader = keys.create("admin", "admin")[1], keys.create("reader", "reader")[1]
    with TestClient(app) as client:
        files = [{"path": f"src/mod{n}.py", "content": module(n)} for n in range(20)]
        for name in ("demo", "other"):
            assert client.post("/api/v1/projects", json={"name": name}, headers=auth(admin)).status_code == 201
            answer = client.post(f"/api/v1/projects/{name}/index", headers=auth(admin), json={"files": files})
            assert answer.status_code == 200, answer.text
        yield client, admin, reader


def search(client: TestClient, token: str, query: str) -> list[tuple[str, int]]:
    answer = client.post("/api/v1/projects/demo/search", headers=auth(token), json={"query": query, "limit": 8})
    assert answer.status_code == 200, answer.text
    return [(hit["path"], hit["start_line"]) for hit in answer.json()["results"]]


def backup_under_load(client: TestClient, admin: str, reader: str, home: Path, dest: Path) -> Path:
    """8 threads search and one re-indexes (new content each time) while the backup runs."""
    from prism.ops.backup import create_backup

    stop = threading.Event()
    counts = [0] * (SEARCHERS + 1)
    failures: list[str] = []
    warmed = threading.Barrier(SEARCHERS + 2)

    def searcher(slot: int) -> None:
        try:
            while True:
                search(client, reader, QUERIES[counts[slot] % len(QUERIES)])
                counts[slot] += 1
                if counts[slot] == 3:
                    warmed.wait()
                if stop.is_set() and counts[slot] > 3:
                    return
        except BaseException as exc:
            failures.append(repr(exc))
            warmed.abort()

    def indexer() -> None:
        try:
            version = 0
            while not stop.is_set() or version < 4:
                version += 1
                answer = client.post("/api/v1/projects/demo/index", headers=auth(admin), json={"files": [
                    {"path": f"src/mod{version % 20}.py", "content": module(version % 20, version)},
                    {"path": f"src/new{version}.py", "content": module(100 + version)}]})
                assert answer.status_code == 200, answer.text
                if version == 2:
                    warmed.wait()
        except BaseException as exc:
            failures.append(repr(exc))
            warmed.abort()

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(SEARCHERS)]
    threads.append(threading.Thread(target=indexer))
    for thread in threads:
        thread.start()
    try:
        warmed.wait()  # every client is mid-flight when the backup starts
        backup = create_backup(home, dest, open_server=ServerDB)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert not failures, failures
    assert all(n > 3 for n in counts[:SEARCHERS])
    return backup.path


def test_backup_under_load_restores_into_a_new_home_equal(
        served: tuple[TestClient, str, str], prism_home: Path, tmp_path: Path) -> None:
    client, admin, reader = served
    path = backup_under_load(client, admin, reader, prism_home, tmp_path / "backups")
    manifest = json.loads((path / MANIFEST).read_text())
    assert {p["path"] for p in manifest["projects"]} == {"server/indexes/demo", "server/indexes/other"}
    assert manifest["server"]["keys"] == 2 and manifest["server"]["projects"] == 2
    assert all("dev-secret" not in f["path"] for f in manifest["files"])  # a secret never travels
    assert stat.S_IMODE(path.stat().st_mode) == 0o700  # hashes, audit log, uploads: owner only
    assert verify_backup(path, Settings(), ServerDB).ok

    new_home = tmp_path / "new-home"
    done = restore_backup(path, new_home, Settings(home=new_home, embedder="hashing"), open_server=ServerDB)
    assert done["projects"] == 2 and done["server_projects_moved"] == 2

    # Counts and content hashes: each restored index holds exactly the backup's chunks.
    for item in manifest["projects"]:
        restored = SqliteStore(new_home / item["path"] / "index.db")
        copy_dir = tmp_path / "copy" / item["path"]
        shutil.copytree(path / item["path"], copy_dir)
        copied = SqliteStore(copy_dir / "index.db")
        try:
            stats = restored.stats()
            assert (stats["files"], stats["chunks"]) == (item["files"], item["chunks"])
            assert sorted(c.chunk.content_hash for c in restored.iter_chunks()) == \
                sorted(c.chunk.content_hash for c in copied.iter_chunks())
        finally:
            restored.close()
            copied.close()
    for entry in manifest["files"]:  # plain files (uploads, project.json) come back byte for byte
        if not entry["path"].endswith(".db"):
            assert sha256_file(new_home / entry["path"]) == entry["sha256"]
    db = ServerDB(new_home / "server" / "server.db")
    assert db.counts() == manifest["server"]
    db.close()

    # Same search results: the restored server (same API_SECRET, so the old keys work) against
    # the engine over the backup's own copy.
    snapshot = Prism(tmp_path / "copy" / "server/indexes/demo", settings=Settings(home=tmp_path, embedder="hashing"),
                     index_dir=tmp_path / "copy" / "server/indexes/demo")
    with TestClient(serving(new_home)) as restored_client:
        for query in QUERIES:
            expected = [(h.chunk.chunk.path, h.chunk.chunk.start_line) for h in snapshot.search(query, limit=8).hits]
            assert expected and search(restored_client, reader, query) == expected
    snapshot.close()


def test_a_damaged_backup_is_caught_and_never_restored(
        served: tuple[TestClient, str, str], prism_home: Path, tmp_path: Path) -> None:
    from prism.ops.backup import create_backup

    path = create_backup(prism_home, tmp_path / "backups", open_server=ServerDB).path
    flipped = tmp_path / "flipped"
    shutil.copytree(path, flipped)
    index = flipped / "server/indexes/demo/index.db"
    data = bytearray(index.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index.write_bytes(bytes(data))
    result = verify_backup(flipped, Settings(), ServerDB)
    assert not result.ok
    assert any("server/indexes/demo/index.db" in p and "SHA-256" in p for p in result.problems)

    missing = tmp_path / "missing"
    shutil.copytree(path, missing)
    (missing / "server/server.db").unlink()
    assert "server/server.db: missing" in verify_backup(missing, Settings(), ServerDB).problems

    runner = CliRunner()
    answer = runner.invoke(cli_app, ["backup", "verify", str(flipped), "--json"])
    assert answer.exit_code == 1
    report = json.loads(answer.stdout)
    assert report["ok"] is False and any("SHA-256" in p for p in report["problems"])
    answer = runner.invoke(cli_app, ["backup", "verify", str(missing)])
    assert answer.exit_code == 1 and "damaged" in answer.stderr and "server/server.db: missing" in answer.stderr

    empty = tmp_path / "empty-home"
    with pytest.raises(BackupError, match="failed verification"):
        restore_backup(flipped, empty, Settings(home=empty), open_server=ServerDB)
    assert not empty.exists() or not any(empty.iterdir())


def test_restore_refuses_a_home_with_data_without_force(
        served: tuple[TestClient, str, str], prism_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    client, admin, reader = served
    runner = CliRunner()
    made = runner.invoke(cli_app, ["backup", str(tmp_path / "backups"), "--json"])
    assert made.exit_code == 0, made.stderr
    path = json.loads(made.stdout)["backup"]
    assert client.delete("/api/v1/projects/other", headers=auth(admin)).status_code in (200, 204)

    refused = runner.invoke(cli_app, ["restore", path])
    assert refused.exit_code == 1
    assert "already holds PRISM data" in refused.stderr and "--force" in refused.stderr
    assert client.get("/api/v1/projects/other", headers=auth(reader)).status_code == 404  # untouched

    forced = runner.invoke(cli_app, ["restore", path, "--force", "--json"])
    assert forced.exit_code == 0, forced.stderr
    assert json.loads(forced.stdout)["projects"] == 2
    assert stat.S_IMODE((prism_home / "server" / "server.db").stat().st_mode) & 0o077 == 0
    assert client.get("/api/v1/projects/other", headers=auth(reader)).status_code == 200  # back
