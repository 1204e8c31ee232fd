"""Backups with PRISM_DATABASE_URL: PRISM's PostgreSQL tables dumped by pg_dump in one snapshot, verified
by pg_restore, restored over a dropped or changed schema with equal counts and the same search results."""

from __future__ import annotations

import json
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from typer.testing import CliRunner

from json_shapes import check, documented
from prism.config import Settings
from prism.engine import Prism
from prism.errors import BackupError, ConfigError
from prism.ops import pg_backup
from prism.ops.backup import MANIFEST, create_backup
from prism.ops.restore import restore_backup, verify_backup
from prism.serve.cli import app as cli_app
from prism.serve.http.db import ServerDB

PASSWORD = "Pg-backup-s3cret-" + "q" * 12  # trust authentication ignores it; it must never be written
QUERIES = ("refresh token", "parse config", "Session login")


def module(n: int) -> str:
    return (f"def refresh_token_{n}(user):\n    '''Refresh token {n} of the user.'''\n    return user.token + {n}\n\n\n"
            f"class Session{n}:\n    def login(self, name):\n        return parse_config_{n}(name)\n\n\n"
            f"def parse_config_{n}(text):\n    '''Parse config {n}.'''\n    return text.split('=')\n")


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    """A database of its own on the session's server (dropped after), its URL carrying a password."""
    name = f"prism_backup_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_url)
    user = parts.username or "postgres"
    host = f"{parts.hostname}:{parts.port}" if parts.hostname else ""
    url = urlunsplit((parts.scheme, f"{user}:{PASSWORD}@{host}", f"/{name}", parts.query, ""))
    try:
        yield url
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def results(root: Path, settings: Settings) -> list[list[tuple[str, str]]]:
    with Prism(root, settings=settings) as prism:
        return [[(h.chunk.chunk.path, h.chunk.chunk.name) for h in prism.search(q, limit=5).hits] for q in QUERIES]


def live_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        found = pg_backup.prism_tables(conn)
        assert found is not None
        return pg_backup.table_counts(conn, *found)


def test_a_postgres_backup_is_verified_and_restored_over_a_dropped_or_changed_schema(
        tmp_path: Path, database: str) -> None:
    root = tmp_path / "app"
    root.mkdir()
    for n in range(6):
        (root / f"mod{n}.py").write_text(module(n))
    home = tmp_path / "home"
    settings = Settings(home=home, embedder="hashing", database_url=database)
    with Prism(root, settings=settings) as prism:
        prism.index()
    before = results(root, settings)
    assert all(before)
    counts = live_counts(database)
    assert counts["prism_chunks"] >= 18 and counts["prism_files"] == 6

    backup = create_backup(home, tmp_path / "backups", open_server=ServerDB, database_url=database)
    recorded = backup.manifest["postgres"]
    assert isinstance(recorded, dict) and recorded["tables"] == counts and recorded["schema_version"] >= 1
    dump = backup.path / pg_backup.DUMP_FILE
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert pg_backup.DUMP_FILE in {f["path"] for f in backup.manifest["files"]}  # type: ignore[attr-defined]
    # No secret in clear: the password is in neither the manifest nor the dump.
    for path in (backup.path / MANIFEST, dump):
        assert PASSWORD.encode() not in path.read_bytes()
    assert "@" not in str(recorded["database"])

    checked = verify_backup(backup.path, settings, ServerDB)
    assert checked.ok, checked.problems
    assert checked.checked["postgres"] == counts  # read back from the dump by pg_restore

    # Changed: rows deleted. A restore refuses to replace them without --force, then puts them back.
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM prism_files WHERE path IN ('mod0.py', 'mod1.py')")
    assert live_counts(database) != counts
    second = tmp_path / "home2"
    with pytest.raises(BackupError, match="already holds PRISM data"):
        restore_backup(backup.path, second, Settings(home=second, embedder="hashing", database_url=database))
    restored = restore_backup(backup.path, second, Settings(home=second, embedder="hashing", database_url=database),
                              force=True)
    assert restored["postgres"] == counts == live_counts(database)
    assert results(root, Settings(home=second, embedder="hashing", database_url=database)) == before

    # Dropped: every PRISM table gone. Restored into an empty database without --force.
    with psycopg.connect(database, autocommit=True) as conn:
        for table in counts:
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    third = tmp_path / "home3"
    restored = restore_backup(backup.path, third, Settings(home=third, embedder="hashing", database_url=database))
    assert live_counts(database) == counts
    assert results(root, Settings(home=third, embedder="hashing", database_url=database)) == before
    with Prism(root, settings=Settings(home=third, embedder="hashing", database_url=database)) as prism:
        prism.index()  # the restored tables take writes: their sequences came back with them
        assert prism.status()["chunks"] == counts["prism_chunks"]


def test_the_cli_backs_up_postgres_and_verify_catches_a_damaged_dump(
        tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "mod.py").write_text(module(1))
    home = tmp_path / "home"
    with Prism(root, settings=Settings(home=home, embedder="hashing", database_url=database)) as prism:
        prism.index()
    monkeypatch.setenv("PRISM_HOME", str(home))
    monkeypatch.setenv("PRISM_DATABASE_URL", database)
    runner = CliRunner()
    made = runner.invoke(cli_app, ["backup", str(tmp_path / "backups"), "--json"])
    assert made.exit_code == 0, made.stderr
    answer = json.loads(made.stdout)
    shape = {f: t for f, t in documented()["backup create"].items() if f.startswith(("postgres", "schema_version"))}
    check({"schema_version": 1, "postgres": answer["postgres"]}, shape)  # as docs/cli.md lists them
    assert answer["postgres"]["tables"]["prism_files"] == 1 and PASSWORD not in made.stdout
    path = Path(answer["backup"])
    ok = runner.invoke(cli_app, ["backup", "verify", str(path), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["checked"]["postgres"]["prism_files"] == 1

    dump = path / pg_backup.DUMP_FILE
    data = bytearray(dump.read_bytes())
    data[len(data) // 2:] = b"\0" * (len(data) - len(data) // 2)
    dump.write_bytes(bytes(data))
    bad = runner.invoke(cli_app, ["backup", "verify", str(path), "--json"])
    assert bad.exit_code == 1
    problems = json.loads(bad.stdout)["problems"]
    assert any("SHA-256" in p for p in problems) and any(pg_backup.DUMP_FILE in p and "pg_restore" in p
                                                         for p in problems), problems

    monkeypatch.delenv("PRISM_DATABASE_URL")  # a PostgreSQL backup restored without a database to put it in
    with pytest.raises(ConfigError, match="PRISM_DATABASE_URL is not set"):
        pg_backup.check_url_for_restore(None, answer["postgres"])


def test_without_pg_tools_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from prism.ops.doctor import check_pg_tools

    url = "postgresql://prism@db.internal:5432/prism"
    assert check_pg_tools(Settings(home=tmp_path, database_url=url))[0].status == "ok"  # pgserver's, in the test extra
    assert check_pg_tools(Settings(home=tmp_path)) == []  # no PostgreSQL, nothing to check
    monkeypatch.setattr(pg_backup.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BackupError, match="pg_dump is needed") as caught:
        pg_backup.pg_tool("pg_dump")
    assert "postgresql-client" in caught.value.hint
    found = check_pg_tools(Settings(home=tmp_path, database_url=url))
    assert [(c.name, c.status) for c in found] == [("backup tools", "fail")] and "postgresql-client" in found[0].fix


def test_the_server_s_own_tables_are_dumped_too_in_one_snapshot_while_rows_are_added(
        tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database holding only the server's tables (`prism_server_*`, versioned apart) is still PRISM's
    data; rows written during the dump are in neither its counts nor its data."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE prism_server_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO prism_server_schema VALUES (1)")
        conn.execute("CREATE TABLE prism_server_keys (key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL)")
        conn.execute("INSERT INTO prism_server_keys VALUES ('k1', 'hmac-of-the-key')")
        conn.execute("CREATE TABLE other_app (x INTEGER)")  # not PRISM's: left alone
    assert pg_backup.has_rows(database)
    stop, writing = threading.Event(), threading.Event()

    def write() -> None:
        with psycopg.connect(database, autocommit=True) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                conn.execute("INSERT INTO prism_server_keys VALUES (%s, 'h')", (f"w{n}",))
                if n == 5:
                    writing.set()

    isolation: list[str] = []
    counts = pg_backup.table_counts

    def counted(conn: psycopg.Connection[object], schema: str, tables: list[str]) -> dict[str, int]:
        row = conn.execute("SHOW transaction_isolation").fetchone()
        isolation.append(str(row[0]) if row else "")
        return counts(conn, schema, tables)

    monkeypatch.setattr(pg_backup, "table_counts", counted)
    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert writing.wait(30)  # rows are being added when the dump starts
        recorded = pg_backup.dump(database, tmp_path / pg_backup.DUMP_FILE)
    finally:
        stop.set()
        writer.join()
    assert isolation == ["repeatable read"]  # the counts see the exported snapshot, as pg_dump does
    assert recorded is not None and recorded["tables"]["prism_server_schema"] == 1
    assert 1 < recorded["tables"]["prism_server_keys"] < live_counts(database)["prism_server_keys"]
    assert pg_backup.dump_counts(tmp_path / pg_backup.DUMP_FILE) == recorded["tables"]


def test_uploaded_project_files_are_backed_up_and_restored_with_the_server_tables(
        tmp_path: Path, database: str) -> None:
    """An uploaded project's blobs and manifest are `prism_server_*` tables: a backup carries them, and
    after a restore into an emptied database a host that never saw them checks them out."""
    from prism.serve.http.server_postgres import PostgresServerStore

    store = PostgresServerStore.connect(database)
    try:
        assert store.add_project(("demo", "upload", "/elsewhere/files/demo", "/elsewhere/indexes/demo", 1.0))
        files = store.project_files(tmp_path / "a" / "server" / "files")
        files.apply("demo", [("src/app.py", module(1).encode()), ("README.md", b"# demo\n")], [])
        home = tmp_path / "home"
        home.mkdir()
        backup = create_backup(home, tmp_path / "backups", open_server=ServerDB, database_url=database)
        tables = backup.manifest["postgres"]["tables"]  # type: ignore[index]
        assert tables["prism_server_files"] == 2 and tables["prism_server_blobs"] == 2  # type: ignore[index]
    finally:
        store.close()
    with psycopg.connect(database, autocommit=True) as conn:
        for table in tables:  # type: ignore[attr-defined]
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    second = tmp_path / "home2"
    restore_backup(backup.path, second, Settings(home=second, embedder="hashing", database_url=database))
    store = PostgresServerStore.connect(database)
    try:
        root = store.project_files(tmp_path / "b" / "server" / "files").checkout("demo")
        assert (root / "src" / "app.py").read_text() == module(1) and (root / "README.md").read_text() == "# demo\n"
        assert store.project_files(tmp_path / "b" / "server" / "files").apply(
            "demo", [("new.py", b"x = 1\n")], [])[0].status == "written"  # and they take writes again
    finally:
        store.close()
