"""`prism backup`: a consistent online snapshot of a PRISM home, with a manifest of every file.

Each database is copied with SQLite's backup API (project indexes through their Store's
`backup()`), so a server may keep serving and writing meanwhile: every database in the copy
is one committed state of it (they are not one instant together). The copy is written to a
hidden `.partial` folder and renamed when its manifest is complete, so a folder named
`prism-backup-*` is always a whole backup. Secrets are never copied (see `home.py`). With
PRISM_DATABASE_URL, PRISM's tables in PostgreSQL are dumped beside the home's files
(`postgres.dump`, see `pg_backup.py`) and listed in the manifest like any file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prism.errors import InputError
from prism.index.sqlite_db import copy_database_file, schema_version
from prism.ops.home import (
    DEV_SECRET,
    EMBEDDINGS_DB,
    FEEDBACK_FILE,
    INDEX_FILE,
    SERVER_DB,
    HomeFile,
    ServerOpener,
    home_files,
    server_project,
    server_project_files,
    server_project_lock_path,
)

FORMAT = "prism-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
NAME_PREFIX = "prism-backup-"
SERVER_LOCK_WAIT_S = 60.0  # a server project being indexed longer than this is copied as it is
SECRETS_NOTE = (
    "No secret is stored in clear: the development secret file (server/dev-secret), API_SECRET, "
    "JWT_SECRET and the database URL (with its password) are left out. API keys are kept only as "
    "keyed hashes and stored secrets as Fernet ciphertext, both under the server secret: a restored "
    "server needs the same API_SECRET (or a copy of the old server/dev-secret, kept apart from the "
    "backups) for keys to keep working.")


@dataclass(frozen=True)
class Backup:
    """A finished backup: its folder and its manifest."""

    path: Path
    manifest: dict[str, object]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_name(now: float) -> str:
    return NAME_PREFIX + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def project_summary(folder: Path, rel: str) -> dict[str, object]:
    """Counts of one copied index (opened through its Store), and the project's root."""
    from prism.index.sqlite import SqliteStore

    store = SqliteStore(folder / INDEX_FILE)
    try:
        stats = store.stats()
        model = store.get_meta("embed_model")
    finally:
        store.close()
    root = None
    meta = folder / "project.json"
    if meta.is_file():
        try:
            root = json.loads(meta.read_text(encoding="utf-8")).get("root")
        except (OSError, ValueError):
            root = None
    return {"path": rel, "root": root, "files": stats["files"], "chunks": stats["chunks"],
            "embedding_model": model, "schema": schema_version(folder / INDEX_FILE)}


def _copy(home: Path, work: Path, entry: HomeFile, open_server: ServerOpener | None, as_is: bool = False) -> bool:
    """Copy one file of the home into the backup; False when it is left out. `as_is` copies every
    database file without opening it through PRISM, which would migrate it first."""
    source, target = home / entry.rel, work / entry.rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if as_is and entry.kind in ("server", "embeddings", "index"):
        if not source.is_file():
            return False
        copy_database_file(source, target)
    elif entry.kind == "server":
        if open_server is None:
            return False
        db = open_server(source)
        try:
            db.backup(target)
        finally:
            db.close()
    elif entry.kind == "embeddings":
        from prism.index.embed_cache import EmbeddingCache

        cache = EmbeddingCache(source)
        try:
            cache.backup(target)
        finally:
            cache.close()
    elif entry.kind == "database":
        if not source.is_file():  # deleted while the backup ran
            return False
        copy_database_file(source, target)
    elif entry.kind == "file":
        try:
            shutil.copy2(source, target)
        except FileNotFoundError:  # deleted while the backup ran: it is not part of the snapshot
            return False
    return True


def _copy_index(home: Path, work: Path, rel: str, skipped: list[dict[str, str]], as_is: bool = False) -> set[str]:
    """Copy one index through its Store; a server project's uploads and generation state are
    copied with it under the project's writer lock, so the three agree. Returns what was copied."""
    import filelock

    from prism.index.sqlite import SqliteStore

    name = server_project(rel)
    lock = filelock.FileLock(str(server_project_lock_path(home, name)), timeout=SERVER_LOCK_WAIT_S) \
        if name is not None and server_project_lock_path(home, name).parent.is_dir() else None
    locked = False
    if lock is not None:
        try:
            lock.acquire()
            locked = True
        except filelock.Timeout:
            skipped.append({"path": rel, "reason": f"copied while a request was indexing it (waited "
                                                   f"{SERVER_LOCK_WAIT_S} s): a restored server finishes it"})
    try:
        if not (home / rel / INDEX_FILE).is_file():  # forgotten while the backup ran
            return set()
        if as_is:
            _copy(home, work, HomeFile(f"{rel}/{INDEX_FILE}", "index"), None, as_is=True)
            if not _copy(home, work, HomeFile(f"{rel}/{FEEDBACK_FILE}", "index"), None, as_is=True):
                from prism.index.feedback import FeedbackStore

                FeedbackStore(work / rel / FEEDBACK_FILE).close()  # none yet: an empty one, as Store.backup makes
        else:
            store = SqliteStore(home / rel / INDEX_FILE)
            try:
                store.backup(work / rel)
            finally:
                store.close()
        together = server_project_files(home, name) if name is not None else []
        return {entry.rel for entry in together if _copy(home, work, entry, None)}
    finally:
        if locked and lock is not None:
            lock.release()


@contextmanager
def _counted(work: Path, as_is: bool) -> Iterator[Path]:
    """Where to open the copy's databases to count them: the copy itself, or with `as_is` a scratch
    copy of it (opening migrates, and the copy must keep its old schema)."""
    if not as_is:
        yield work
        return
    with tempfile.TemporaryDirectory(prefix="prism-count-") as scratch:
        shutil.copytree(work, Path(scratch) / "copy")
        yield Path(scratch) / "copy"


def _drop_sidecars(folder: Path) -> None:
    """Opening a copy to count it may leave -wal/-shm files; the copy is whole without them."""
    for path in folder.rglob("*"):
        if path.name.endswith(("-wal", "-shm")):
            path.unlink(missing_ok=True)


def create_backup(home: Path, dest: Path, *, open_server: ServerOpener | None = None,
                  now: float | None = None, prism_version: str = "", database_url: str | None = None,
                  as_is: bool = False) -> Backup:
    """Snapshot `home` (and PRISM's tables in the PostgreSQL at `database_url`) into a new
    `prism-backup-<UTC time>` folder inside `dest`.

    `as_is` (the backup taken before an upgrade) copies each database file as it is, at its old
    schema: opening one through its store would migrate it first; the counts are then read from
    scratch copies, which may be migrated.
    """

    now = time.time() if now is None else now
    if dest.resolve() == home.resolve():
        raise InputError(f"Cannot write backups of {home} into the home itself.",
                         hint="Pass a folder outside PRISM_HOME, ideally on another disk.", value=dest)
    dest.mkdir(parents=True, exist_ok=True)
    name = backup_name(now)
    suffix = 1
    while (dest / name).exists():
        suffix += 1
        name = f"{backup_name(now)}-{suffix}"
    work = dest / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)  # keys' hashes, the audit log and uploaded code: for the owner only
    os.chmod(work, 0o700)  # mkdir's mode passes through the umask
    try:
        entries = list(home_files(home, exclude=dest))
        skipped = [{"path": e.rel, "reason": e.reason} for e in entries if e.kind == "skip"]
        indexes = sorted({Path(e.rel).parent.as_posix() for e in entries
                          if e.kind == "index" and e.rel.endswith(INDEX_FILE)})
        copied: set[str] = set()
        for rel in indexes:
            copied |= _copy_index(home, work, rel, skipped, as_is)
        for entry in entries:
            if entry.rel in copied:
                continue
            if entry.kind in ("server", "embeddings", "database", "file") and not _copy(home, work, entry, open_server,
                                                                                          as_is):
                skipped.append({"path": entry.rel, "reason": "not copied (no server database support, "
                                                            "or deleted during the backup)"})
        with _counted(work, as_is) as counted:
            projects = [project_summary(counted / rel, rel) for rel in indexes if (work / rel / INDEX_FILE).is_file()]
            server = None
            if open_server is not None and (work / SERVER_DB).is_file():
                db = open_server(counted / SERVER_DB)
                try:
                    server = db.counts()
                finally:
                    db.close()
        if as_is:  # the schemas the copy holds, not those of the scratch copies counted
            for item in projects:
                item["schema"] = schema_version(work / str(item["path"]) / INDEX_FILE)
        _drop_sidecars(work)
        postgres = None
        if database_url is not None:
            from prism.ops.pg_backup import DUMP_FILE, dump

            postgres = dump(database_url, work / DUMP_FILE)
        files = [{"path": p.relative_to(work).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
                 for p in sorted(work.rglob("*")) if p.is_file()]
        manifest: dict[str, object] = {
            "format": FORMAT, "version": FORMAT_VERSION, "prism_version": prism_version,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "created_at": now,
            "home": str(home.resolve()), "files": files, "projects": projects, "server": server,
            "embedding_cache": (work / EMBEDDINGS_DB).is_file(), "postgres": postgres,
            "secrets": {"excluded": [DEV_SECRET, "API_SECRET", "JWT_SECRET", "PRISM_DATABASE_URL"],
                        "note": SECRETS_NOTE},
            "skipped": skipped,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.rename(work, dest / name)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Backup(dest / name, manifest)
