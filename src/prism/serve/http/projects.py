"""ProjectRegistry: the server's named projects (uploaded or server-side path), their files and engines.

Uploaded projects live in a server-owned folder, PRISM_HOME/server/files/<name>/, written one
validated file at a time (a file whose content hash is unchanged is not rewritten, so the
engine's incremental index skips it). Path projects must sit under an operator-allowed root.
Each project has one cached Prism engine per process (reopened when another worker deleted or
recreated the project); all share one embedder. The registry itself lives in the server
database, so every worker process sees a change on its next request.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from prism.config import Settings
from prism.engine import Prism
from prism.errors import InputError, PathError, ProjectError
from prism.index.embed import Embedder, load_embedder
from prism.index.indexer import IndexReport
from prism.serve.http.db import ServerDB
from prism.serve.http.errors import ConflictError, PermissionDeniedError

ProjectKind = Literal["upload", "path"]
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
MAX_PATH_CHARS = 1024


@dataclass(frozen=True)
class ProjectRecord:
    name: str
    kind: ProjectKind
    root: Path
    index_dir: Path
    created_at: float


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one uploaded file: written, unchanged, deleted, or failed with a reason."""

    path: str
    status: Literal["written", "unchanged", "deleted", "failed"]
    reason: str = ""


def normalise_upload_path(raw: str) -> str:
    """A safe relative '/'-path, or PathError: no absolute or drive paths, no `..`, no NUL."""
    if not raw or len(raw) > MAX_PATH_CHARS:
        raise PathError("A file path must have 1–1024 characters.", hint="Send a relative path.", value=raw[:80])
    if "\x00" in raw:
        raise PathError("A file path contains a NUL byte.", hint="Remove it.", value=raw.replace("\x00", "\\0"))
    text = raw.replace("\\", "/")
    if text.startswith("/") or _DRIVE_RE.match(text):
        raise PathError(f"Absolute path {raw!r} is not allowed.", hint="Send paths relative to the project root.",
                        value=raw)
    parts = [p for p in PurePosixPath(text).parts if p not in ("", ".")]
    if not parts:
        raise PathError(f"Path {raw!r} names no file.", hint="Send a file path such as src/app.py.", value=raw)
    if ".." in parts:
        raise PathError(f"Path {raw!r} climbs out of the project with `..`.", hint="Send a path inside it.",
                        value=raw)
    if any(ord(ch) < 32 for ch in text):
        raise PathError(f"Path {raw!r} contains control characters.", hint="Rename the file.", value=raw)
    return "/".join(parts)


def validate_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise InputError(f"Project name {name!r} is not valid.",
                         hint="Use 1–63 characters: lowercase letters, digits, '-' and '_'.", value=name)
    return name


class ProjectRegistry:
    """Create, list, delete, upload to and open server projects."""

    def __init__(self, db: ServerDB, settings: Settings, allowed_roots: list[Path],
                 max_file_bytes: int) -> None:
        self._db = db
        self.settings = settings
        self.folder = settings.home / "server"
        self._allowed = [root.resolve() for root in allowed_roots]
        self._max_file_bytes = max_file_bytes
        self._engines: dict[str, tuple[float, Prism]] = {}  # name → (record's created_at, engine)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._embedder: Embedder | None = None

    # -- registry --------------------------------------------------------------------------

    def create(self, name: str, path: str | None = None) -> ProjectRecord:
        validate_name(name)
        if path is None:
            kind: ProjectKind = "upload"
            root = self.folder / "files" / name
        else:
            kind = "path"
            root = self._allowed_root(path)
        index_dir = self.folder / "indexes" / name
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"Project {name!r} already exists.",
                                    hint="Pick another name or delete the project first.", value=name)
            conn.execute("INSERT INTO projects VALUES (?, ?, ?, ?, ?)",
                         (name, kind, str(root), str(index_dir), time.time()))
        if kind == "upload":
            root.mkdir(parents=True, exist_ok=True)
        return self.get(name)

    def _allowed_root(self, path: str) -> Path:
        if "\x00" in path or not os.path.isabs(path):
            raise PathError("A server-side project path must be absolute.", hint="Send an absolute path.",
                            value=path.replace("\x00", "\\0"))
        resolved = Path(path).resolve()
        if not any(resolved == root or root in resolved.parents for root in self._allowed):
            raise PermissionDeniedError(f"Indexing server path {path!r} is not allowed.",
                                        hint="The operator must list a parent folder in PRISM_ALLOWED_ROOTS; "
                                             "otherwise upload the files.", value=path)
        if not resolved.is_dir():
            raise PathError(f"Server path {path!r} is not a folder.", hint="Send an existing folder.", value=path)
        return resolved

    def get(self, name: str) -> ProjectRecord:
        rows = self._db.query("SELECT name, kind, root, index_dir, created_at FROM projects WHERE name = ?",
                              (name,))
        if not rows:
            raise ProjectError(f"No project named {name!r}.", hint="List projects with GET /api/v1/projects.",
                               value=name)
        n, kind, root, index_dir, created = rows[0]
        return ProjectRecord(str(n), "path" if kind == "path" else "upload", Path(str(root)),
                             Path(str(index_dir)), float(created))  # type: ignore[arg-type]

    def all(self) -> list[ProjectRecord]:
        names = self._db.query("SELECT name FROM projects ORDER BY name")
        return [self.get(str(row[0])) for row in names]

    def delete(self, name: str) -> None:
        record = self.get(name)
        with self._lock(name):
            self._evict(name, None)
            Prism(record.root if record.root.is_dir() else self.folder, settings=self.settings,
                  index_dir=record.index_dir).forget()
            if record.kind == "upload":
                shutil.rmtree(record.root, ignore_errors=True)
            self._db.execute("DELETE FROM projects WHERE name = ?", (name,))

    # -- engines ---------------------------------------------------------------------------

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def embedder(self) -> Embedder:
        with self._guard:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings.embedder, threads=self.settings.threads)
            return self._embedder

    def engine(self, name: str) -> Prism:
        """The project's cached engine, reopened when the project was deleted or recreated elsewhere.

        Another worker process may delete a project (and create one of the same name): the
        record read here is always current, and a cached engine from an older record (its
        `created_at` differs) is closed rather than left reading a deleted index.
        """
        try:
            record = self.get(name)
        except ProjectError:
            self._evict(name, None)
            raise
        self._evict(name, record.created_at)
        with self._guard:
            cached = self._engines.get(name)
        if cached is None:
            engine = Prism(record.root, settings=self.settings, index_dir=record.index_dir,
                           embedder=self.embedder())
            with self._guard:
                cached = self._engines.setdefault(name, (record.created_at, engine))
            if cached[1] is not engine:
                engine.close()
        return cached[1]

    def _evict(self, name: str, keep_created_at: float | None) -> None:
        """Close the cached engine for `name` unless it belongs to the record created at `keep_created_at`."""
        with self._guard:
            cached = self._engines.get(name)
            if cached is None or cached[0] == keep_created_at:
                return
            del self._engines[name]
        cached[1].close()

    def close(self) -> None:
        with self._guard:
            engines, self._engines = [engine for _, engine in self._engines.values()], {}
        for engine in engines:
            engine.close()

    # -- uploads and indexing --------------------------------------------------------------

    def upload(self, name: str, files: list[tuple[str, str]], delete: list[str]) -> list[FileOutcome]:
        """Write each valid file (unchanged content is skipped); bad files fail alone."""
        record = self.get(name)
        if record.kind != "upload":
            raise ConflictError(f"Project {name!r} indexes a server path; it takes no uploads.",
                                hint="Send an index request without files.", value=name)
        outcomes: list[FileOutcome] = []
        with self._lock(name):
            for raw, content in files:
                outcomes.append(self._write_one(record.root, raw, content))
            for raw in delete:
                outcomes.append(self._delete_one(record.root, raw))
        return outcomes

    def _write_one(self, root: Path, raw: str, content: str) -> FileOutcome:
        try:
            rel = normalise_upload_path(raw)
        except PathError as exc:
            return FileOutcome(raw[:200], "failed", exc.message)
        if "\x00" in content:
            return FileOutcome(rel, "failed", "binary content (NUL byte): only text files are indexed")
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError:
            return FileOutcome(rel, "failed", "not valid UTF-8 text (lone surrogate)")
        if len(data) > self._max_file_bytes:
            return FileOutcome(rel, "failed", f"{len(data)} bytes is over the {self._max_file_bytes}-byte limit")
        target = root / rel
        try:
            if target.is_file() and hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest():
                return FileOutcome(rel, "unchanged")
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.prism-upload")
            temp.write_bytes(data)
            os.replace(temp, target)
        except (OSError, UnicodeError) as exc:
            return FileOutcome(rel, "failed", f"cannot store the file: {type(exc).__name__}")
        return FileOutcome(rel, "written")

    def _delete_one(self, root: Path, raw: str) -> FileOutcome:
        try:
            rel = normalise_upload_path(raw)
        except PathError as exc:
            return FileOutcome(raw[:200], "failed", exc.message)
        target = root / rel
        if not target.is_file():
            return FileOutcome(rel, "failed", "no such file")
        target.unlink()
        return FileOutcome(rel, "deleted")

    def index(self, name: str, *, force: bool = False, embed: bool | None = None) -> IndexReport:
        """Bring the project's index in line with its files (incremental by hash)."""
        engine = self.engine(name)
        return engine.index(force=force, embed=embed)
