"""Schema versions at start: an upgrade backs the data up as it was first (restorable, to roll back),
and a schema newer than this PRISM's is refused with a clear message (SQLite index, server database,
PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from prism.config import Settings
from prism.engine import Prism
from prism.errors import IndexCorruptError
from prism.index.postgres import MIGRATIONS as PG_MIGRATIONS
from prism.index.postgres import PostgresStore
from prism.index.sqlite import SCHEMA_VERSION
from prism.index.sqlite_db import schema_version
from prism.ops.backup import create_backup
from prism.ops.home import INDEX_FILE, SERVER_DB, UPGRADE_BACKUPS, home_files, index_folders
from prism.ops.restore import restore_backup, verify_backup
from prism.ops.retention import list_backups
from prism.ops.upgrade import backup_before_upgrade, pending_upgrades
from prism.serve.http.app import prepare_home
from prism.serve.http.db import MIGRATIONS, ServerDB, statements
from prism.serve.http.settings import ServerSettings

API_SECRET = "upgrade-secret-" + "u" * 40


def old_home(tmp_path: Path) -> tuple[Path, Path]:
    """A home as an older PRISM left it: an index at schema 1, the server database at schema 1."""
    root, home = tmp_path / "proj", tmp_path / "home"
    root.mkdir()
    (root / "auth.py").write_text("def refresh_token(user):\n    return user.token + 1\n")
    with Prism(root, settings=Settings(home=home, embedder="hashing")) as prism:
        prism.index()
        index = prism.index_dir / INDEX_FILE
    # back to schema 1: 2 added the usage table, 3 a column, 4 a table, 5 an index, 6 a column
    conn = sqlite3.connect(index)
    conn.execute("DROP TABLE usage")
    conn.execute("ALTER TABLE chunks DROP COLUMN level_tokens")
    conn.execute("ALTER TABLE chunks DROP COLUMN level_texts")
    for statement in ("DROP TRIGGER ann_log_chunk_deleted", "DROP TRIGGER ann_log_vector_stored", "DROP TABLE ann_log",
                      "DROP INDEX chunks_path_tokens"):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    (home / "server").mkdir(mode=0o700)
    conn = sqlite3.connect(home / SERVER_DB)
    for statement in statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("INSERT INTO api_keys (key_id, name, role, projects, key_hash, created_at) "
                 "VALUES ('k1', 'old key', 'reader', '[\"*\"]', 'hash', 1.0)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    return root, home


def test_a_start_that_upgrades_backs_up_the_old_schemas_first_and_restoring_them_rolls_back(
        tmp_path: Path) -> None:
    _, home = old_home(tmp_path)
    rel = index_folders(home)[0]
    assert pending_upgrades(home) == [f"{SERVER_DB}: schema 1 → {len(MIGRATIONS)}",
                                      f"{rel}/{INDEX_FILE}: schema 1 → {SCHEMA_VERSION}"]

    prepare_home(ServerSettings(api_secret=API_SECRET), Settings(home=home, embedder="hashing"))  # type: ignore[call-arg]
    backups = list_backups(home / UPGRADE_BACKUPS)
    assert len(backups) == 1
    copy = backups[0].path
    # The copy holds the data at the old schemas; the home itself is upgraded, and nothing is left pending.
    assert schema_version(copy / SERVER_DB) == 1 and schema_version(copy / rel / INDEX_FILE) == 1
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["projects"][0]["schema"] == 1 and manifest["server"]["keys"] == 1
    assert schema_version(home / SERVER_DB) == len(MIGRATIONS)
    assert schema_version(home / rel / INDEX_FILE) == SCHEMA_VERSION
    assert pending_upgrades(home) == []
    prepare_home(ServerSettings(api_secret=API_SECRET), Settings(home=home, embedder="hashing"))  # type: ignore[call-arg]
    assert len(list_backups(home / UPGRADE_BACKUPS)) == 1  # a start that upgrades nothing backs up nothing

    # Backups of the home leave the upgrade backups out (they are backups, not data).
    assert all(f.kind == "skip" for f in home_files(home) if f.rel.startswith(UPGRADE_BACKUPS + "/"))
    later = create_backup(home, tmp_path / "backups", open_server=ServerDB)
    assert not any(str(f["path"]).startswith(UPGRADE_BACKUPS) for f in later.manifest["files"])  # type: ignore[attr-defined]

    # Rolling back: the upgrade backup verifies and restores into a home at the old schemas.
    settings = Settings(home=tmp_path / "rolled-back", embedder="hashing")
    assert verify_backup(copy, settings, ServerDB).ok
    restore_backup(copy, settings.home, settings, open_server=None)
    assert schema_version(settings.home / SERVER_DB) == 1
    assert schema_version(settings.home / rel / INDEX_FILE) == 1


def test_a_newer_index_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    root, home = old_home(tmp_path)
    index = home / index_folders(home)[0] / INDEX_FILE
    conn = sqlite3.connect(index)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(IndexCorruptError, match="written by a newer PRISM") as caught, \
            Prism(root, settings=Settings(home=home, embedder="hashing")) as prism:
        prism.search("refresh token")
    assert "Upgrade PRISM" in caught.value.hint
    assert pending_upgrades(home) == [f"{SERVER_DB}: schema 1 → {len(MIGRATIONS)}"]  # a newer one is not "pending"


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    name = f"prism_upgrade_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, query = postgres_url.partition("?")
    try:
        yield head.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_schema_versions_an_older_one_is_backed_up_then_migrated_a_newer_one_refused(
        tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from prism.index import postgres

    latest = max(v for v, _ in PG_MIGRATIONS)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "auth.py").write_text("def refresh_token(user):\n    return user.token + 1\n")
    with Prism(root, settings=Settings(home=tmp_path / "home", embedder="hashing",
                                           database_url=database)) as prism:
        prism.index()
    home = tmp_path / "home"
    assert pending_upgrades(home, database) == []
    # This PRISM one PostgreSQL migration ahead of the database: the start backs it up, then migrates.
    monkeypatch.setattr(postgres, "MIGRATIONS", [*PG_MIGRATIONS, (latest + 1, "SELECT 1")])
    assert pending_upgrades(home, database)[0].endswith(f"schema {latest} → {latest + 1}")
    backup = backup_before_upgrade(home, database_url=database)
    assert backup is not None and backup.manifest["postgres"]["schema_version"] == latest  # type: ignore[index]
    assert backup.manifest["postgres"]["tables"]["prism_files"] >= 1  # type: ignore[index]
    assert pending_upgrades(home, database) == []
    monkeypatch.setattr(postgres, "MIGRATIONS", PG_MIGRATIONS)  # and back: this PRISM is now the older one
    with pytest.raises(IndexCorruptError, match="written by a newer PRISM") as caught:
        PostgresStore.connect(database, "p")
    assert "Upgrade PRISM" in caught.value.hint


def test_a_database_with_only_the_server_stores_tables_has_nothing_pending(tmp_path: Path, database: str) -> None:
    """The server store migrated, no project indexed into PostgreSQL yet: the next start must not fail."""
    from prism.serve.http.server_store import open_server_store

    open_server_store(tmp_path / "home" / "server", database).close()
    assert pending_upgrades(tmp_path / "home", database) == []
