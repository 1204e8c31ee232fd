"""`prism backup verify` and `prism restore`: check a backup against its manifest, then put it back.

Verification never writes into the backup: hashes are read from the files in place, and each
database is checked (PRAGMA integrity_check, counts, a test search through the engine) in a
temporary copy, because opening SQLite files can leave -wal/-shm files or touch headers. A
PostgreSQL dump in the backup is read back with `pg_restore` (its table of contents and each
table's rows, against the manifest's counts) and restored into PRISM_DATABASE_URL.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prism.errors import BackupError
from prism.ops.backup import FORMAT, FORMAT_VERSION, MANIFEST, project_summary, sha256_file
from prism.ops.home import (
    EMBEDDINGS_DB,
    FEEDBACK_FILE,
    INDEX_FILE,
    SERVER_DB,
    ServerOpener,
    has_data,
    home_files,
)
from prism.ops.pg_backup import DUMP_FILE
from prism.ops.retention import list_backups

if TYPE_CHECKING:
    from prism.config import Settings


@dataclass
class Verification:
    """What `verify` found: problems (empty when the backup is sound) and what it checked."""

    path: Path
    manifest: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checked: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {"backup": str(self.path), "ok": self.ok, "problems": self.problems, "checked": self.checked,
                "created": self.manifest.get("created")}


def find_backup(source: Path) -> Path:
    """`source` itself when it is a backup, else the newest backup inside it."""
    if (source / MANIFEST).is_file():
        return source
    found = list_backups(source)
    if found:
        return found[0].path
    raise BackupError(f"No PRISM backup at {source}.",
                      hint="Pass a prism-backup-* folder (or the folder `prism backup` wrote into).", value=source)


def _read_manifest(path: Path) -> dict[str, object]:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"The manifest of {path} cannot be read ({exc}).",
                          hint="The backup is damaged: use another one.", value=path) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a PRISM backup.", hint="Pass a folder written by `prism backup`.",
                          value=path)
    if int(manifest.get("version", 0)) > FORMAT_VERSION:
        raise BackupError(f"{path} was written by a newer PRISM (backup format {manifest.get('version')}).",
                          hint="Upgrade PRISM to restore it.", value=path)
    return manifest


def _check_files(path: Path, manifest: dict[str, object], problems: list[str]) -> int:
    files = manifest.get("files")
    listed = files if isinstance(files, list) else []
    for item in listed:
        target = path / str(item["path"])
        if not target.is_file():
            problems.append(f"{item['path']}: missing")
        elif target.stat().st_size != item["bytes"]:
            problems.append(f"{item['path']}: {target.stat().st_size} bytes, the manifest says {item['bytes']}")
        elif sha256_file(target) != item["sha256"]:
            problems.append(f"{item['path']}: SHA-256 differs from the manifest (the file changed or is corrupt)")
    return len(listed)


def test_query(folder: Path, settings: Settings) -> dict[str, object]:
    """Search a copied index through the engine for a symbol it holds; expects a hit."""
    from prism.engine import Prism
    from prism.index.sqlite import SqliteStore

    store = SqliteStore(folder / INDEX_FILE)
    try:
        name = next((c.chunk.name for c in store.iter_chunks(batch=200) if c.chunk.name.strip()), None)
    finally:
        store.close()
    if name is None:
        return {"query": None, "hits": 0}
    with Prism(folder, settings=settings, index_dir=folder) as engine:
        response = engine.search(name, limit=5)
    return {"query": name, "hits": len(response.hits)}


def _check_project(path: Path, item: dict[str, object], scratch: Path, settings: Settings,
                   problems: list[str]) -> dict[str, object]:
    from prism.index.sqlite_db import integrity_problems

    rel = str(item["path"])
    copy = scratch / rel
    copy.mkdir(parents=True)
    for name in (INDEX_FILE, FEEDBACK_FILE, "project.json"):
        if (path / rel / name).is_file():
            shutil.copy2(path / rel / name, copy / name)
    for name in (INDEX_FILE, FEEDBACK_FILE):
        if (copy / name).is_file():
            problems += [f"{rel}/{name}: {p}" for p in integrity_problems(copy / name)]
    if problems:
        return {"path": rel}
    summary = project_summary(copy, rel)
    for count in ("files", "chunks"):
        if summary[count] != item.get(count):
            problems.append(f"{rel}: {summary[count]} {count}, the manifest says {item.get(count)}")
    query = test_query(copy, settings)
    if int(summary["chunks"]) > 0 and not query["hits"]:  # type: ignore[call-overload]
        problems.append(f"{rel}: the test search for {query['query']!r} found nothing")
    return {"path": rel, "files": summary["files"], "chunks": summary["chunks"], "test_query": query}


def _check_database(path: Path, rel: str, scratch: Path, problems: list[str]) -> Path | None:
    from prism.index.sqlite_db import integrity_problems

    if not (path / rel).is_file():
        return None
    copy = scratch / rel
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path / rel, copy)
    found = integrity_problems(copy)
    problems += [f"{rel}: {p}" for p in found]
    return None if found else copy


def verify_backup(source: Path, settings: Settings, open_server: ServerOpener | None = None) -> Verification:
    """Check a backup: manifest, every file's size and SHA-256, each database's integrity and
    counts, and a test search per project. Problems are collected, not raised."""
    path = find_backup(source)
    result = Verification(path, _read_manifest(path))
    manifest, problems = result.manifest, result.problems
    result.checked["files"] = _check_files(path, manifest, problems)
    projects = manifest.get("projects")
    with tempfile.TemporaryDirectory(prefix="prism-verify-") as temp:
        scratch = Path(temp)
        checked = []
        for item in projects if isinstance(projects, list) else []:
            if (path / str(item["path"]) / INDEX_FILE).is_file():
                checked.append(_check_project(path, item, scratch, settings, problems))
        result.checked["projects"] = checked
        server = _check_database(path, SERVER_DB, scratch, problems)
        if server is not None and open_server is not None:
            db = open_server(server)
            try:
                counts = db.counts()
            finally:
                db.close()
            if counts != manifest.get("server"):
                problems.append(f"{SERVER_DB}: counts {counts}, the manifest says {manifest.get('server')}")
            result.checked["server"] = counts
        if _check_database(path, EMBEDDINGS_DB, scratch, problems) is not None:
            result.checked["embedding_cache"] = True
    postgres = manifest.get("postgres")
    if isinstance(postgres, dict):
        result.checked["postgres"] = _check_dump(path, postgres, problems)
    return result


def _check_dump(path: Path, recorded: dict[str, object], problems: list[str]) -> dict[str, int]:
    """The dump's rows per table as pg_restore reads them, compared with the manifest's."""
    from prism.ops.pg_backup import dump_counts

    name = str(recorded.get("file"))
    if not (path / name).is_file():
        return {}  # reported missing with the files
    try:
        counts = dump_counts(path / name)
    except BackupError as exc:
        problems.append(f"{name}: {exc.message}")
        return {}
    tables = recorded.get("tables")
    expected = {str(k): int(v) for k, v in tables.items()} if isinstance(tables, dict) else {}
    for table, n in expected.items():
        if counts.get(table, 0) != n:
            problems.append(f"{name}: {counts.get(table, 0)} rows in {table}, the manifest says {n}")
    return counts


def restore_backup(source: Path, home: Path, settings: Settings, *, force: bool = False,
                   open_server: ServerOpener | None = None) -> dict[str, object]:
    """Verify a backup, then copy it into `home` (and its PostgreSQL dump into
    `settings.database_url`); refuses a home or database holding data unless `force`.

    Project indexes go back through their Store's `restore()` (SQLite's backup API into the
    open file, so a running process sees a whole index, never a half-copied file); PostgreSQL's
    tables are replaced in one transaction by `pg_restore`.
    """
    from prism.ops import pg_backup

    checked = verify_backup(source, settings, open_server)
    if not checked.ok:
        raise BackupError(f"The backup {checked.path} failed verification: {checked.problems[0]}"
                          + (f" (and {len(checked.problems) - 1} more)" if len(checked.problems) > 1 else "") + ".",
                          hint="Nothing was restored. Use another backup (`prism backup verify` lists "
                               "every problem).", value=checked.path)
    if has_data(home) and not force:
        raise BackupError(f"{home} already holds PRISM data; restoring would overwrite it.",
                          hint="Restore into an empty PRISM_HOME, or pass --force to replace it "
                               "(take a backup of it first).", value=home)
    postgres = checked.manifest.get("postgres")
    url = None
    if isinstance(postgres, dict):
        url = pg_backup.check_url_for_restore(
            settings.database_url.get_secret_value() if settings.database_url else None, postgres)
        if pg_backup.has_rows(url) and not force:
            raise BackupError("The database at PRISM_DATABASE_URL already holds PRISM data; restoring would "
                              "replace it.", hint="Restore into an empty database, or pass --force to replace "
                                                  "it (take a backup of it first).")
    path = checked.path
    tables: dict[str, int] = {}
    if isinstance(postgres, dict) and url is not None:
        tables = pg_backup.restore(url, path / str(postgres["file"]), postgres)
        if tables != postgres.get("tables"):
            raise BackupError(f"After pg_restore the database holds {tables} rows, the backup "
                              f"{postgres.get('tables')}.",
                              hint="Check the database's logs; the restore ran in one transaction.")
    return _restore_home(checked, home, open_server) | ({"postgres": tables} if tables else {})


def _restore_home(checked: Verification, home: Path, open_server: ServerOpener | None) -> dict[str, object]:
    from prism.index.sqlite import SqliteStore
    from prism.index.sqlite_db import copy_database_file

    path = checked.path
    projects = [str(p["path"]) for p in checked.manifest.get("projects", [])]  # type: ignore[attr-defined]
    restored = 0
    for entry in home_files(path):
        rel = entry.rel
        if rel in (MANIFEST, DUMP_FILE) or entry.kind == "skip":
            continue
        if entry.kind == "index":
            continue  # below, per project
        target = home / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.kind in ("server", "embeddings"):
            copy_database_file(path / rel, target)
        else:
            shutil.copy2(path / rel, target)
        restored += 1
    for rel in projects:
        store = SqliteStore(home / rel / INDEX_FILE)
        try:
            store.restore(path / rel)
        finally:
            store.close()
        restored += 2
    moved = 0
    old_home = Path(str(checked.manifest.get("home", "")))
    if open_server is not None and (home / SERVER_DB).is_file() and old_home != home.resolve():
        db = open_server(home / SERVER_DB)
        try:
            moved = db.move_home(old_home, home.resolve())
        finally:
            db.close()
    return {"backup": str(path), "home": str(home), "files": restored, "projects": len(projects),
            "server_projects_moved": moved, "created": checked.manifest.get("created"),
            "secrets": "not in the backup: set the same API_SECRET (or copy the old server/dev-secret) "
                       "for API keys to keep working"}
