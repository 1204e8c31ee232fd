"""Move a team server's own data from one server store to another (`prism migrate --server`):
its projects with their index generations, uploaded files and indexes (vectors included, nothing
re-read or re-embedded), its API keys (hashes as they are, so every key keeps working), the JWT
deny list and the audit log; and, where the usage meter moves too (embedded ↔ Redis), its counts.

The destination must hold no server yet (no keys, no projects). Projects go first, each undone
if its copy fails; the keys then go in one transaction; the audit log (append-only, so it cannot
be undone) last, followed by one `server.migrate` event. The source is read, never changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prism.engine import INDEX_FILE
from prism.errors import IndexLockedError, InputError, PathError, PrismError, ProjectError
from prism.index.store import Store
from prism.index.transfer import Transfer, copy_index
from prism.ops.meter import KEEP_DAYS, MeterBackend
from prism.serve.home import private_dir
from prism.serve.http.audit import Actor
from prism.serve.http.server_store import ServerStore
from prism.serve.http.uploads import ProjectFiles, stored_sizes

# A project's index store on one side (the caller closes it); None where that side holds no index of it.
OpenIndex = Callable[[str], Store | None]
AUDIT_PAGE = 1000
UPLOAD_BATCH_BYTES = 64 << 20  # uploaded files are stored in batches of about this much (one transaction each)


@dataclass(frozen=True)
class ProjectMoved:
    name: str
    kind: str
    uploaded_files: int
    indexed: bool
    files: int
    chunks: int
    vectors: int
    usage_events: int
    feedback_marks: int


@dataclass
class ServerMoved:
    projects: list[ProjectMoved] = field(default_factory=list)
    keys: int = 0
    revoked_tokens: int = 0
    audit_events: int = 0
    usage_counts: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"projects": [asdict(p) for p in self.projects], "keys": self.keys,
                "revoked_tokens": self.revoked_tokens, "audit_events": self.audit_events,
                "usage_counts": self.usage_counts}


@dataclass(frozen=True)
class Side:
    """One end of the move: the server store, its uploaded files, and each project's index."""

    store: ServerStore
    files: ProjectFiles
    index: OpenIndex

    def close(self) -> None:
        self.store.close()


def copy_server(source: Side, dest: Side, actor: Actor) -> ServerMoved:
    """Copy the server in `source` into `dest`, which must hold none (see the module docstring)."""
    if dest.store.projects() or dest.store.keys(include_revoked=True):
        raise InputError("The destination already holds a PRISM server's keys or projects.",
                         hint="Migrate into an empty database (or home); the source is left as it was.")
    moved = ServerMoved()
    done: list[str] = []
    try:
        for row in source.store.projects():
            name = str(row[0])
            with source.store.project_lock(name, 0.0) as held:  # no index request of it may run meanwhile
                if not held:
                    raise IndexLockedError(
                        f"Project {name!r} is being written (a server or worker runs on the source).", value=name,
                        hint="Stop every `prism serve` and `prism worker` of the source, then migrate again.")
                done.append(name)
                moved.projects.append(_copy_project(source, dest, row))
        with dest.store.keys_transaction() as keys:
            for values in source.store.export_keys():
                keys.add_key(values)
                moved.keys += 1
    except BaseException:
        indexed = {p.name for p in moved.projects if p.indexed}  # a failed copy_index cleaned up after itself
        for name in reversed(done):  # the destination as it was, so a rerun can start over
            with suppress(PrismError, OSError):
                _forget_project(dest, name, index=name in indexed)
        raise
    now = time.time()
    for jti, revoked_at, forget_after in source.store.revoked_tokens():
        if float(forget_after) >= now:  # type: ignore[arg-type]  # an expired entry denies nothing
            dest.store.revoke_token(str(jti), float(revoked_at), float(forget_after))  # type: ignore[arg-type]
            moved.revoked_tokens += 1
    for event in _audit_oldest_first(source.store):
        dest.store.append_audit(*event)
        moved.audit_events += 1
    dest.store.append_audit(time.time(), actor.principal, "server.migrate", "server", actor.request_id,
                            actor.address, json.dumps({"projects": len(moved.projects), "keys": moved.keys},
                                                      sort_keys=True))
    return moved


def _copy_project(source: Side, dest: Side, row: tuple[object, ...]) -> ProjectMoved:
    name, kind = str(row[0]), str(row[1])
    if not dest.store.add_project(row):
        raise InputError(f"The destination already holds project {name!r}.", value=name,
                         hint="Migrate into an empty database (or home).")
    state = source.store.index_state(name)
    if state is not None:
        dest.store.set_index_state(name, state)
    uploaded = 0
    if kind == "upload":
        uploaded = _copy_files(source.files, dest.files, name)
    copied = Transfer(0, 0, 0)
    from_index = source.index(name)
    if from_index is not None:
        to_index = dest.index(name)
        assert to_index is not None
        try:
            copied = copy_index(from_index, to_index)
        finally:
            from_index.close()
            to_index.close()
    return ProjectMoved(name, kind, uploaded, from_index is not None, copied.files, copied.chunks, copied.vectors,
                        copied.usage_events, copied.feedback_marks)


def _copy_files(source: ProjectFiles, dest: ProjectFiles, name: str) -> int:
    """The project's uploaded files from `source` into `dest`, in batches; returns how many."""
    root = source.checkout(name)
    batch: list[tuple[str, bytes]] = []
    size = count = 0
    for rel in sorted(stored_sizes(root)):
        path = root / rel
        if path.is_symlink() or not path.is_file() or not _normalised(rel):
            continue  # never an upload's (uploads write plain files at normalised paths)
        batch.append((rel, path.read_bytes()))
        size += len(batch[-1][1])
        if size >= UPLOAD_BATCH_BYTES:
            count += _store(dest, name, batch)
            batch, size = [], 0
    count += _store(dest, name, batch)
    dest.checkout(name)  # this host's copy, current as of what was just stored
    return count


def _normalised(rel: str) -> bool:
    from prism.serve.http.projects import normalise_upload_path

    try:
        return normalise_upload_path(rel) == rel
    except PathError:
        return False


def _store(dest: ProjectFiles, name: str, writes: list[tuple[str, bytes]]) -> int:
    failed = [o for o in dest.apply(name, writes, []) if o.status == "failed"] if writes else []
    if failed:
        raise InputError(f"Project {name!r}: {len(failed)} uploaded files could not be stored, "
                         f"e.g. {failed[0].path}: {failed[0].reason}.", value=name,
                         hint="Fix or delete those files in the source, then migrate again.")
    return len(writes)


def _forget_project(dest: Side, name: str, *, index: bool) -> None:
    store = dest.index(name) if index else None
    if store is not None:
        try:
            store.forget()
        finally:
            store.close()
    dest.files.forget(name)
    dest.store.delete_project(name)


AuditEvent = tuple[float, str, str, str, str | None, str | None, str]


def _audit_oldest_first(store: ServerStore) -> list[AuditEvent]:
    newest_first: list[AuditEvent] = []
    before: int | None = None
    while page := store.audit(AUDIT_PAGE, before):
        for _id, at, principal, event, target, request_id, address, details in page:
            newest_first.append((float(at), str(principal), str(event), str(target),  # type: ignore[arg-type]
                                 None if request_id is None else str(request_id),
                                 None if address is None else str(address), str(details)))
        before = int(page[-1][0])  # type: ignore[call-overload]
    return newest_first[::-1]


def copy_usage(source: MeterBackend, dest: MeterBackend) -> int:
    """Add every count the source meter holds (the last KEEP_DAYS days) to `dest`; returns how many cells."""
    since = (datetime.now(UTC).date() - timedelta(days=KEEP_DAYS)).isoformat()
    counts = dict(source.rows(since))
    if counts:
        dest.add(counts)
    return len(counts)


def embedded_side(folder: Path, *, create: bool) -> Side:
    """The embedded server in `folder` (PRISM_HOME/server): server.db, files/<name>/, indexes/<name>/."""
    from prism.index.sqlite import SqliteStore
    from prism.serve.http.db import ServerDB

    if not create and not (folder / "server.db").is_file():
        raise ProjectError(f"No embedded server in {folder.parent} to migrate (no {folder / 'server.db'}).",
                           hint="Set PRISM_HOME to the team server's home.", value=folder)

    def index(name: str) -> Store | None:
        path = folder / "indexes" / name / INDEX_FILE
        if create:
            private_dir(path.parent)
        elif not path.is_file():
            return None
        store = SqliteStore(path)
        if not create and store.get_meta("chunker_version") is None:  # an index that never finished a sync
            store.close()
            return None
        return store

    store = ServerDB(private_dir(folder) / "server.db")
    return Side(store, store.project_files(folder / "files"), index)


def postgres_side(url: str, folder: Path, *, create: bool) -> Side:
    """The server in the PostgreSQL database at `url`; this host's copies of uploaded files in `folder`/files."""
    from prism.index.postgres import PostgresStore
    from prism.serve.http.server_postgres import PostgresServerStore

    def index(name: str) -> Store | None:
        store = PostgresStore.connect(url, name)
        if not create and store.get_meta("chunker_version") is None:
            store.close()
            return None
        return store

    store = PostgresServerStore.connect(url)
    return Side(store, store.project_files(folder / "files"), index)
