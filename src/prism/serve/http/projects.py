"""ProjectRegistry: the server's named projects (uploaded or server-side path), their files and engines.

Uploaded projects' files are validated here and kept by the server store's ProjectFiles
(uploads.py): embedded, the folder PRISM_HOME/server/files/<name>/; with PostgreSQL, blobs in the
shared database that each replica checks out into that folder before it reads or indexes them. A
file whose content hash is unchanged is not rewritten, so the engine's incremental index skips
it. Path projects must sit under an operator-allowed root.
Each project has one cached Prism engine per process (service/engines.py; reopened when another
worker deleted or recreated the project); all share one embedder. The registry itself lives in the server
store, so every worker process (and, on PostgreSQL, every replica) sees a change on its next
request.

Each index request is one *generation*, recorded by the server store (PRISM_HOME/server/state/
<name>.json, or the projects table in PostgreSQL) under a per-project lock that every worker
(every replica) honours: begun (uploading, then indexing) before the first
file is written, and marked complete only after the index has caught up. A process killed in
between leaves a generation begun and never completed, with its lock free, so the project
reports `upload_interrupted` or `indexing_interrupted` instead of an index it does not have;
at start the server finishes an interrupted indexing (the files are all on disk) and reports
an interrupted upload (only the client can send the rest).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal, get_args

from prism.cache import Cache
from prism.config import Settings
from prism.engine import Prism
from prism.errors import IndexLockedError, InputError, PathError, PrismError, ProjectError
from prism.index.embed import Embedder
from prism.index.indexer import IndexReport
from prism.serve.home import private_dir
from prism.serve.http.errors import ConflictError, PermissionDeniedError, QuotaExceededError
from prism.serve.http.generations import generation
from prism.serve.http.server_store import ServerStore
from prism.serve.http.uploads import FileOutcome, ProjectFiles
from prism.service.engines import ProjectEngines

log = logging.getLogger("prism.http")
ProjectKind = Literal["upload", "path"]
Phase = Literal["new", "uploading", "indexing", "ready", "failed", "upload_interrupted", "indexing_interrupted"]
WRITER_WAIT_S = 2.0  # a second index request waits this long for the first, then gets 409
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255  # one file or folder name (NAME_MAX on Linux and macOS)
# Control characters, and the invisible "format" ones (U+202E RIGHT-TO-LEFT OVERRIDE and the other
# bidi controls, zero-width spaces and joiners, U+FEFF) that make one file name read as another.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class ProjectRecord:
    name: str
    kind: ProjectKind
    root: Path
    index_dir: Path
    created_at: float


@dataclass(frozen=True)
class IndexState:
    """A project's index generations: the last one begun, the last one completed, and where it is."""

    started: int
    completed: int
    phase: Phase

    @property
    def indexed(self) -> bool:
        """Some index request ran to the end (a crash during the first leaves none)."""
        return self.completed > 0

    def to_dict(self) -> dict[str, object]:
        return {"started": self.started, "completed": self.completed, "phase": self.phase}


@dataclass(frozen=True)
class UploadPlan:
    """A validated upload, in request order: each file to write (path, bytes) or its failure; deletions."""

    record: ProjectRecord
    files: list[tuple[str, bytes] | FileOutcome]
    delete: list[str]


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
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in parts):
        raise PathError(f"A name in path {raw[:80]!r}… is longer than {MAX_NAME_BYTES} bytes.",
                        hint="Shorten that file or folder name.", value=raw[:80])
    if ".." in parts:
        raise PathError(f"Path {raw!r} climbs out of the project with `..`.", hint="Send a path inside it.",
                        value=raw)
    refused = next((ch for ch in text if unicodedata.category(ch) in REFUSED_CATEGORIES), None)
    if refused is not None:
        kind = "a control" if unicodedata.category(refused) == "Cc" else "an invisible formatting"
        raise PathError(f"Path {raw!r} contains {kind} character, U+{ord(refused):04X} "
                        f"{unicodedata.name(refused, '(unnamed)')}, which can make a name read as another.",
                        hint="Rename the file without it.", value=ascii(raw))
    return "/".join(parts)


PHASES: tuple[Phase, ...] = get_args(Phase)


def _phase(text: str) -> Phase:
    return next((phase for phase in PHASES if phase == text), "failed")


def _record(row: tuple[object, ...]) -> ProjectRecord:
    name, kind, root, index_dir, created = row
    return ProjectRecord(str(name), "path" if kind == "path" else "upload", Path(str(root)), Path(str(index_dir)),
                         float(created))  # type: ignore[arg-type]


def validate_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise InputError(f"Project name {name!r} is not valid.",
                         hint="Use 1–63 characters: lowercase letters, digits, '-' and '_'.", value=name)
    return name


class ProjectRegistry:
    """Create, list, delete, upload to and open server projects."""

    def __init__(self, store: ServerStore, settings: Settings, allowed_roots: list[Path],
                 max_file_bytes: int, *, max_project_bytes: int = 1 << 30,
                 max_project_files: int = 50_000, cache: Cache | None = None) -> None:
        self._store = store
        self.files: ProjectFiles = store.project_files(settings.home / "server" / "files")
        self.engines = ProjectEngines(settings, cache)
        self.settings = settings
        self.folder = settings.home / "server"
        self._allowed = [root.resolve() for root in allowed_roots]
        self._max_file_bytes = max_file_bytes
        self._max_project_bytes = max_project_bytes
        self._max_project_files = max_project_files
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def cache(self) -> Cache:
        """The result cache every project's engine shares."""
        return self.engines.cache

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
        if not self._store.add_project((name, kind, str(root), str(index_dir), time.time())):
            raise ConflictError(f"Project {name!r} already exists.",
                                hint="Pick another name or delete the project first.", value=name)
        if kind == "upload":
            private_dir(root)
        private_dir(index_dir)
        self._write_state(name, IndexState(0, 0, "new"))  # a same-named project deleted before left none
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
        row = self._store.project(name)
        if row is None:
            raise ProjectError(f"No project named {name!r}.", hint="List projects with GET /api/v1/projects.",
                               value=name)
        return self._here(_record(row))

    def all(self) -> list[ProjectRecord]:
        return [self._here(_record(row)) for row in self._store.projects()]

    def _here(self, record: ProjectRecord) -> ProjectRecord:
        """The record with this host's folders: the replica that created it (in a shared store) may
        have another PRISM_HOME. A path project's root is the same path on every host."""
        root = self.folder / "files" / record.name if record.kind == "upload" else record.root
        return ProjectRecord(record.name, record.kind, root, self.folder / "indexes" / record.name,
                             record.created_at)

    def delete(self, name: str) -> None:
        record = self.get(name)
        with self._lock(name):
            self.engines.evict(name)
            # This host's index folder, even where this replica never opened the project: in a shared
            # store, forgetting it is what deletes the index's rows.
            private_dir(record.index_dir)
            Prism(record.root if record.root.is_dir() else private_dir(self.folder), settings=self.settings,
                  index_dir=record.index_dir).forget()
            if record.kind == "upload":
                self.files.forget(name)
            self._store.delete_project(name)

    # -- engines ---------------------------------------------------------------------------

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def embedder(self) -> Embedder:
        return self.engines.embedder()

    def engine(self, name: str, *, files: bool = True) -> Prism:
        """The project's cached engine, reopened when the project was deleted or recreated elsewhere;
        with `files`, an uploaded project's files on this host are brought up to date first (without,
        only its index may be read: stats, whether it is indexed).

        Another worker process may delete a project (and create one of the same name): the
        record read here is always current, and a cached engine from an older record (its
        `created_at` differs) is closed rather than left reading a deleted index.
        """
        try:
            record = self.get(name)
        except ProjectError:
            self.engines.evict(name)
            self.files.discard(name)  # deleted through another replica: its files go from here too
            raise
        self.engines.evict(name, record.created_at)  # before the checkout: an old incarnation's engine goes first
        if record.kind == "upload" and files:
            self.files.checkout(name)  # the files another replica uploaded since, before anything reads them
        elif record.kind == "upload":
            private_dir(record.root)  # the engine needs its folder, even for reading only the index
        return self.engines.get(name, record.created_at, record.root, record.index_dir)

    def close(self) -> None:
        self.engines.close()

    # -- uploads and indexing --------------------------------------------------------------

    def upload(self, name: str, files: list[tuple[str, str]], delete: list[str]) -> list[FileOutcome]:
        """Write each valid file (unchanged content is skipped); bad files fail alone.

        The whole request is refused (QuotaExceededError, nothing written) when the project would
        then hold more files or bytes than its quota.
        """
        with self._writer(name):
            return self._apply(self.plan_upload(name, files, delete))

    def plan_upload(self, name: str, files: list[tuple[str, str]], delete: list[str]) -> UploadPlan:
        """Validate an upload and check the quota, writing nothing."""
        record = self.get(name)
        if record.kind != "upload":
            raise ConflictError(f"Project {name!r} indexes a server path; it takes no uploads.",
                                hint="Send an index request without files.", value=name)
        prepared = [self._prepare(raw, content) for raw, content in files]
        self._check_quota(record, [item for item in prepared if not isinstance(item, FileOutcome)], delete)
        return UploadPlan(record, prepared, delete)

    def _apply(self, plan: UploadPlan) -> list[FileOutcome]:
        """Store the plan's files and deletions; outcomes in request order (files, then deletions)."""
        writes = [item for item in plan.files if not isinstance(item, FileOutcome)]
        deletes: list[str | FileOutcome] = []
        for raw in plan.delete:
            try:
                deletes.append(normalise_upload_path(raw))
            except PathError as exc:
                deletes.append(FileOutcome(raw[:200], "failed", exc.message))
        with self._lock(plan.record.name):
            stored = iter(self.files.apply(plan.record.name, writes,
                                           [rel for rel in deletes if not isinstance(rel, FileOutcome)]))
        return [item if isinstance(item, FileOutcome) else next(stored) for item in [*plan.files, *deletes]]

    def index_request(self, name: str, files: list[tuple[str, str]], delete: list[str], *,
                      force: bool = False, embed: bool | None = None) -> tuple[list[FileOutcome], IndexReport]:
        """Upload (if any files) and index, as one generation that is marked complete only at the end."""
        with self._writer(name):
            planned = self.plan_upload(name, files, delete) if files or delete else None
            last = self._read_state(name)
            with generation(self._store, name, "uploading" if planned else "indexing",
                            (last.started, last.completed, last.phase)) as phase:
                outcomes = self._apply(planned) if planned else []
                if planned:
                    phase("indexing")
                report = self.engine(name).index(force=force, embed=embed)
        return outcomes, report

    def status(self, name: str) -> IndexState:
        """The project's generations; one begun by a process that is gone reads as interrupted."""
        state = self._read_state(name)
        if state.phase not in ("uploading", "indexing"):
            return state
        with self._store.project_lock(name, 0.0) as held:
            if not held:
                return state  # a live writer holds it: really in progress
            state = self._read_state(name)  # it may have finished between the two reads
            if state.phase in ("uploading", "indexing"):
                return IndexState(state.started, state.completed,
                                  "upload_interrupted" if state.phase == "uploading" else "indexing_interrupted")
            return state

    def recover(self) -> list[str]:
        """At start: finish each interrupted indexing and report each interrupted upload; returns
        the names whose indexing was finished."""
        finished = []
        records = self.all()
        names = {record.name for record in records}
        with contextlib.suppress(OSError):
            for gone in sorted(set(os.listdir(self.folder / "files")) - names):
                if NAME_RE.match(gone):
                    self.files.discard(gone)  # a copy of a project deleted through another replica
        for record in records:
            state = self.status(record.name)
            if state.phase == "upload_interrupted":
                log.warning("project %s: an upload was interrupted (the server stopped); its index may lack "
                            "files: send the upload again", record.name)
            elif state.phase == "indexing_interrupted":
                log.warning("project %s: indexing was interrupted (the server stopped); finishing it now",
                            record.name)
                try:
                    self.index_request(record.name, [], [])
                except IndexLockedError:
                    continue  # another worker is finishing it
                except PrismError as exc:  # this project stays `failed`; the others are still recovered
                    log.warning("project %s: finishing the interrupted indexing failed: %s", record.name, exc)
                    continue
                finished.append(record.name)
        return finished

    # -- generation state ------------------------------------------------------------------

    @contextlib.contextmanager
    def _writer(self, name: str) -> Iterator[None]:
        """The project's write lock, across threads, worker processes and (PostgreSQL) replicas;
        released if its holder dies."""
        with self._store.project_lock(name, WRITER_WAIT_S) as held:
            if not held:
                raise IndexLockedError(f"Another request is updating project {name!r}.",
                                       hint="Wait for it to finish, then send this request again.", value=name)
            yield

    def _read_state(self, name: str) -> IndexState:
        row = self._store.index_state(name)
        state = IndexState(0, 0, "new") if row is None else IndexState(row[0], row[1], _phase(row[2]))
        if state.started == 0 and self._has_index(name):
            # Indexed elsewhere: before generations were recorded, or by an index job (`prism
            # worker`). The project's store says whether it holds an index.
            return IndexState(1, 1, "ready")
        return state

    def _has_index(self, name: str) -> bool:
        try:
            return self.engine(name, files=False).is_indexed
        except (PrismError, OSError):  # a project being deleted, or its folder gone: no index to serve
            return False

    def _write_state(self, name: str, state: IndexState) -> None:
        self._store.set_index_state(name, (state.started, state.completed, state.phase))

    def _prepare(self, raw: str, content: str) -> FileOutcome | tuple[str, bytes]:
        """The normalised path and bytes of one uploaded file, or why it fails."""
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
        return rel, data

    def _check_quota(self, record: ProjectRecord, writes: list[tuple[str, bytes]], delete: list[str]) -> None:
        sizes = self.files.sizes(record.name)
        for raw in delete:
            with contextlib.suppress(PathError):
                sizes.pop(normalise_upload_path(raw), None)
        sizes.update((rel, len(data)) for rel, data in writes)
        files, total = len(sizes), sum(sizes.values())
        if files > self._max_project_files or total > self._max_project_bytes:
            raise QuotaExceededError(
                f"Project {record.name!r} would hold {files} files and {total} bytes; its quota is "
                f"{self._max_project_files} files and {self._max_project_bytes} bytes. Nothing was written.",
                hint="Delete files from the project (the `delete` list of an index request), or ask the "
                     "operator to raise PRISM_MAX_PROJECT_FILES or PRISM_MAX_PROJECT_BYTES.",
                value=record.name)

    def index(self, name: str, *, force: bool = False, embed: bool | None = None) -> IndexReport:
        """Bring the project's index in line with its files (incremental by hash), as one generation."""
        return self.index_request(name, [], [], force=force, embed=embed)[1]

