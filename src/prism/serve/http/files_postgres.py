"""PostgresFiles: uploaded projects' files in the shared PostgreSQL database, checked out on each host that reads them.

Tables (the server store's migration 2): `prism_server_blobs` holds each distinct content of a
project once, by SHA-256; `prism_server_files` maps each path to its blob; `prism_server_file_sets`
holds a version, a random UUID new with every change, so a version once seen never comes back
(not even for a deleted and recreated project). All three go with the project's row (ON
DELETE CASCADE), and `prism backup` carries them with every other `prism_*` table.

An upload is one transaction: the manifest read under a row lock, blobs inserted (content already
stored is not sent again), paths pointed at them, blobs no path uses any more dropped, a new
version. `checkout` keeps a copy under this host's PRISM_HOME/server/files/<name>/: one indexed
read of the version per call, and only when it changed (an upload through another replica) a sync
in one REPEATABLE READ snapshot that downloads the blobs this copy lacks, checks each against its
hash, and removes what the manifest no longer names. The copy is only a cache: what the engine then
reads from it passes the engine's own checks, and a path that is not a safe relative path (a row
written by hand) is never written. Files an older PRISM kept in that folder (before uploads were
stored in the database) are stored from there on the first checkout rather than removed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock
import psycopg

from prism.errors import IndexLockedError, PathError
from prism.private_files import FILE_MODE, private_dir
from prism.serve.http.generations import replace_atomically
from prism.serve.http.uploads import NO_SUCH_FILE, FileOutcome, Layout, sha256, stored_sizes

if TYPE_CHECKING:
    from prism.serve.http.server_postgres import PostgresServerStore

log = logging.getLogger("prism.http")
CHECKOUTS = ".checkouts"  # beside the copies: each copy's version and hashes, and its lock
SYNC_WAIT_S = 120.0  # another process of this host syncing the same project: wait this long


class PostgresFiles:
    """The ProjectFiles in PostgreSQL, with this host's copies under `folder`."""

    def __init__(self, store: PostgresServerStore, folder: Path) -> None:
        self._store = store
        self.folder = folder
        self._seen: dict[str, str] = {}  # project → the version this process last found checked out
        self._guard = threading.Lock()

    # -- the shared files ------------------------------------------------------------------

    def sizes(self, project: str) -> dict[str, int]:
        with self._store.connection() as conn:
            rows = conn.execute("SELECT path, size FROM prism_server_files WHERE project = %s", (project,)).fetchall()
        return {str(path): int(size) for path, size in rows}

    def apply(self, project: str, writes: list[tuple[str, bytes]], deletes: list[str]) -> list[FileOutcome]:
        after = ""
        with self._store.connection() as conn, conn.transaction():
            conn.execute("SELECT 1 FROM prism_server_projects WHERE name = %s FOR UPDATE", (project,))
            before = _version(conn, project)
            current = {str(path): str(digest) for path, digest in conn.execute(
                "SELECT path, sha256 FROM prism_server_files WHERE project = %s", (project,)).fetchall()}
            layout = Layout(current)
            stored, replaced = set(current.values()), set[str]()
            outcomes = [self._write(conn, project, current, layout, (stored, replaced), rel, data)
                        for rel, data in writes]
            for rel in deletes:
                if rel not in current:
                    outcomes.append(FileOutcome(rel, "failed", NO_SUCH_FILE))
                    continue
                conn.execute("DELETE FROM prism_server_files WHERE project = %s AND path = %s", (project, rel))
                replaced.add(current.pop(rel))
                layout.remove(rel)
                outcomes.append(FileOutcome(rel, "deleted"))
            if any(outcome.status in ("written", "deleted") for outcome in outcomes):
                conn.execute("DELETE FROM prism_server_blobs b WHERE b.project = %s AND b.sha256 = ANY(%s) AND NOT "
                             "EXISTS (SELECT 1 FROM prism_server_files f WHERE f.project = b.project "
                             "AND f.sha256 = b.sha256)", (project, sorted(replaced)))
                row = conn.execute("INSERT INTO prism_server_file_sets (project, version) VALUES (%s, "
                                   "gen_random_uuid()::text) ON CONFLICT (project) DO UPDATE "
                                   "SET version = excluded.version RETURNING version", (project,)).fetchone()
                after = str(row[0]) if row else ""
        if after:
            written = {rel: data for (rel, data), outcome in zip(writes, outcomes, strict=False)
                       if outcome.status == "written"}
            self._carry(project, before, after, written, [o.path for o in outcomes if o.status == "deleted"])
        return outcomes

    def _carry(self, project: str, before: str, after: str, written: dict[str, bytes], deleted: list[str]) -> None:
        """Bring this host's copy from `before` to `after` with the change itself, when the copy was
        current: the replica that received an upload does not download it again."""
        root = self.folder / project
        with self._local_lock(project):
            version, have = self._read_state(project)
            if version is None and before == "" and not (root.exists() and any(root.iterdir())):
                version = before  # the project's first upload, and no copy yet: an empty copy is current
                private_dir(root)
            if version != before or not root.is_dir():
                return  # not current: the next checkout syncs it whole
            for rel, data in written.items():
                _write_file(root, rel, data)
                have[rel] = sha256(data)
            for rel in deleted:
                (root / rel).unlink(missing_ok=True)
                have.pop(rel, None)
            _remove_unlisted(root, set(have))  # and the folders the deletions left empty
            self._write_state(project, after, have)
        with self._guard:
            self._seen[project] = after

    @staticmethod
    def _write(conn: psycopg.Connection[Any], project: str, current: dict[str, str], layout: Layout,
               blobs: tuple[set[str], set[str]], rel: str, data: bytes) -> FileOutcome:
        """One file into the manifest; `blobs`: the contents stored, and those a path stopped using."""
        stored, replaced = blobs
        digest = sha256(data)
        if current.get(rel) == digest:
            return FileOutcome(rel, "unchanged")
        reason = layout.conflict(rel)
        if reason is not None:
            return FileOutcome(rel, "failed", reason)
        if digest not in stored:  # content the project holds already is not sent again
            conn.execute("INSERT INTO prism_server_blobs (project, sha256, data) VALUES (%s, %s, %s) "
                         "ON CONFLICT DO NOTHING", (project, digest, data))
            stored.add(digest)
        conn.execute("INSERT INTO prism_server_files (project, path, sha256, size) VALUES (%s, %s, %s, %s) "
                     "ON CONFLICT (project, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size",
                     (project, rel, digest, len(data)))
        if rel in current:
            replaced.add(current[rel])
        current[rel] = digest
        layout.add(rel)
        return FileOutcome(rel, "written")

    def forget(self, project: str) -> None:
        with self._store.connection() as conn, conn.transaction():
            for table in ("prism_server_files", "prism_server_blobs", "prism_server_file_sets"):
                conn.execute(f"DELETE FROM {table} WHERE project = %s".encode(), (project,))
        self.discard(project)

    # -- this host's copy ------------------------------------------------------------------

    def checkout(self, project: str) -> Path:
        root = self.folder / project
        with self._store.connection() as conn:
            version = _version(conn, project)
        with self._guard:
            if self._seen.get(project) == version and root.is_dir():
                return root
        if version == "" and self._read_state(project)[0] is None and self._adopt(project, root):
            with self._store.connection() as conn:
                version = _version(conn, project)
        with self._local_lock(project):
            have_version, have = self._read_state(project)
            if have_version != version or not root.is_dir():
                version = self._sync(project, root, have)
        with self._guard:
            self._seen[project] = version
        return root

    def _adopt(self, project: str, root: Path) -> bool:
        """Store the files an older PRISM left in this host's folder (it kept uploads there, not in the
        database) before the folder becomes a copy of what the database holds; True if any."""
        writes = []
        for rel in sorted(stored_sizes(root)):
            path = root / rel
            if _safe(rel) and path.is_file() and not path.is_symlink():
                writes.append((rel, path.read_bytes()))
        if not writes:
            return False
        outcomes = self.apply(project, writes, [])
        log.warning("project %s: stored the %d uploaded files found in %s in the shared database (%d failed)",
                    project, len(writes), root, sum(o.status == "failed" for o in outcomes))
        return True

    def discard(self, project: str) -> None:
        """Remove this host's copy (the project was deleted, here or on another replica)."""
        with self._guard:
            self._seen.pop(project, None)
        shutil.rmtree(self.folder / project, ignore_errors=True)
        (self.folder / CHECKOUTS / f"{project}.json").unlink(missing_ok=True)

    def _sync(self, project: str, root: Path, have: dict[str, str]) -> str:
        """Make `root` the project's files as of one snapshot; returns that snapshot's version."""
        private_dir(root)
        with self._store.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            version = _version(conn, project)
            manifest = {str(path): str(digest) for path, digest in conn.execute(
                "SELECT path, sha256 FROM prism_server_files WHERE project = %s", (project,)).fetchall()}
            manifest = {rel: digest for rel, digest in manifest.items() if _safe(rel)}
            _remove_unlisted(root, set(manifest))
            wanted: dict[str, list[str]] = {}
            for rel, digest in manifest.items():
                if have.get(rel) != digest or not (root / rel).is_file():
                    wanted.setdefault(digest, []).append(rel)
            fetched = {rel for rels in wanted.values() for rel in rels}
            kept = {rel: digest for rel, digest in manifest.items() if rel not in fetched}
            with conn.cursor(name=f"prism_checkout_{threading.get_ident()}") as cursor:
                cursor.execute("SELECT sha256, data FROM prism_server_blobs WHERE project = %s AND sha256 = ANY(%s)",
                               (project, sorted(wanted)))
                for digest, data in cursor:
                    blob = bytes(data)
                    if sha256(blob) != digest:
                        log.warning("project %s: a stored file does not match its hash %s; not checked out",
                                    project, digest)
                        continue
                    for rel in wanted[str(digest)]:
                        _write_file(root, rel, blob)
                        kept[rel] = str(digest)
        self._write_state(project, version, kept)
        return version

    @contextmanager
    def _local_lock(self, project: str) -> Iterator[None]:
        lock = filelock.FileLock(str(private_dir(self.folder / CHECKOUTS) / f"{project}.lock"), timeout=SYNC_WAIT_S,
                                 mode=FILE_MODE)
        try:
            lock.acquire()
        except filelock.Timeout as exc:
            raise IndexLockedError(f"Another process on this host kept checking out project {project!r}.",
                                   hint="Send the request again.", value=project) from exc
        try:
            yield
        finally:
            lock.release()

    def _read_state(self, project: str) -> tuple[str | None, dict[str, str]]:
        try:
            data = json.loads((self.folder / CHECKOUTS / f"{project}.json").read_text(encoding="utf-8"))
            return str(data["version"]), {str(k): str(v) for k, v in dict(data["files"]).items()}
        except (OSError, ValueError, KeyError, TypeError):
            return None, {}

    def _write_state(self, project: str, version: str, files: dict[str, str]) -> None:
        replace_atomically(private_dir(self.folder / CHECKOUTS) / f"{project}.json",
                           json.dumps({"version": version, "files": files}).encode())


def _version(conn: psycopg.Connection[Any], project: str) -> str:
    """The project's files' version; "" before the first upload."""
    row = conn.execute("SELECT version FROM prism_server_file_sets WHERE project = %s", (project,)).fetchone()
    return str(row[0]) if row else ""


def _safe(rel: str) -> bool:
    """Only a path an upload could have stored (normalised, inside the project) is checked out."""
    from prism.serve.http.projects import normalise_upload_path

    try:
        return normalise_upload_path(rel) == rel
    except PathError:
        log.warning("a stored file path %r is not a safe relative path; not checked out", rel[:200])
        return False


def _write_file(root: Path, rel: str, data: bytes) -> None:
    target = root / rel
    for parent in reversed(target.relative_to(root).parents):  # a file where a folder must go was removed
        folder = root / parent
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    private_dir(target.parent)
    replace_atomically(target, data)  # replaces a link itself, never writes through it


def _remove_unlisted(root: Path, listed: set[str]) -> None:
    """Delete every file and folder under `root` that no listed path is or leads to."""
    folders = {"/".join(rel.split("/")[:i]) for rel in listed for i in range(1, rel.count("/") + 1)}
    for dirpath, dirs, names in os.walk(root, topdown=False):
        base = Path(dirpath).relative_to(root).as_posix()
        for name in [*names, *dirs]:
            rel = name if base == "." else f"{base}/{name}"
            path = Path(dirpath) / name
            if rel in listed and not path.is_symlink() and path.is_file():
                continue
            if rel in folders and not path.is_symlink() and path.is_dir():
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
