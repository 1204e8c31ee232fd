"""What lives under PRISM_HOME, sorted by how a backup must treat it.

A home holds project indexes (`projects/<slug>/` for the CLI and MCP, `server/indexes/<name>/`
for the team server: each an `index.db` with `feedback.db` and `project.json`), the server
database (`server/server.db`: keys, projects, audit log), the shared embedding cache
(`embeddings.db`) and uploaded project files (`server/files/`). Databases are copied with
SQLite's backup API; plain files are copied as they are; secrets and what can be rebuilt are
left out, each with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

INDEX_FILE = "index.db"  # as prism.engine.INDEX_FILE
FEEDBACK_FILE = "feedback.db"
SERVER_DB = "server/server.db"
EMBEDDINGS_DB = "embeddings.db"  # as prism.index.embed_cache.FILE (with PostgreSQL: a table there)
METRICS_DIR = "server/metrics"  # prometheus-client's multiprocess files (prism.ops.metrics)
UPGRADE_BACKUPS = "upgrade-backups"  # the backups taken before an upgrade (prism.ops.upgrade)
DEV_SECRET = "server/dev-secret"  # as prism.serve.secrets.DEV_SECRET_FILE, under server/

Kind = Literal["index", "server", "embeddings", "database", "file", "skip"]
# Files never copied, by name, and why.
SKIPPED_NAMES: dict[str, str] = {
    "dev-secret": "secret: the development server secret is never backed up; keep it (or API_SECRET) apart",
    "ratelimit.db": "transient: rate-limit buckets refill by themselves",
    "index.lock": "transient: a lock file",
}
SKIPPED_SUFFIXES: dict[str, str] = {
    "-wal": "part of a database: its content is in the database copy",
    "-shm": "part of a database: its content is in the database copy",
    "-journal": "part of a database: its content is in the database copy",
}


def server_project(rel: str) -> str | None:
    """The server project's name when `rel` is a server index folder (`server/indexes/<name>`)."""
    parts = rel.split("/")
    return parts[2] if len(parts) == 3 and parts[:2] == ["server", "indexes"] else None


def server_project_files(home: Path, name: str) -> list[HomeFile]:
    """A server project's uploaded files and generation state (`server/files/<name>/`,
    `server/state/<name>.json`): what must be copied together with its index."""
    found = [f for f in home_files(home / "server" / "files" / name) if f.kind == "file"]
    prefix = f"server/files/{name}/"
    state = home / "server" / "state" / f"{name}.json"
    return ([HomeFile(prefix + f.rel, "file") for f in found]
            + ([HomeFile(f"server/state/{name}.json", "file")] if state.is_file() else []))


def server_project_lock_path(home: Path, name: str) -> Path:
    """The lock a server project's writers hold (as `FileGenerations.lock_path` in serve/http/generations.py)."""
    return home / "server" / "state" / f"{name}.lock"


class ServerDatabase(Protocol):
    """The team server's database as operations use it (`prism.serve.http.db.ServerDB`)."""

    def backup(self, target: Path) -> None: ...

    def counts(self) -> dict[str, int]: ...

    def move_home(self, old: Path, new: Path) -> int: ...

    def active_keys(self) -> list[dict[str, object]]: ...

    def close(self) -> None: ...


ServerOpener = Callable[[Path], ServerDatabase]


@dataclass(frozen=True)
class HomeFile:
    """One file under the home: its path relative to the home, and what a backup does with it."""

    rel: str
    kind: Kind
    reason: str = ""


def _skip_reason(name: str, rel: str = "") -> str | None:
    if rel.startswith(METRICS_DIR + "/"):
        return "transient: per-process Prometheus samples, emptied at every server start"
    if rel.startswith(UPGRADE_BACKUPS + "/"):
        return "an earlier backup (taken before an upgrade): backups are not copied into backups"
    if name in SKIPPED_NAMES:
        return SKIPPED_NAMES[name]
    if name.startswith(".dev-secret"):
        return SKIPPED_NAMES["dev-secret"]
    if name.endswith(".lock"):
        return SKIPPED_NAMES["index.lock"]
    if name.startswith("vectors-"):
        return "rebuilt: a vector snapshot is recomputed from the index on the first search"
    for suffix, reason in SKIPPED_SUFFIXES.items():
        if name.endswith(suffix):
            return reason
    return None


def home_files(home: Path, exclude: Path | None = None) -> Iterator[HomeFile]:
    """Every file under `home` (sorted, links not followed), except those under `exclude`
    (a backups folder inside the home)."""
    skip_dir = exclude.resolve() if exclude is not None else None
    for folder, dirs, names in os.walk(home):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if skip_dir is None or (here / d).resolve() != skip_dir)
        has_index = INDEX_FILE in names
        for name in sorted(names):
            path = here / name
            rel = path.relative_to(home).as_posix()
            reason = _skip_reason(name, rel)
            if path.is_symlink() or not path.is_file():
                yield HomeFile(rel, "skip", "not a regular file")
            elif reason is not None:
                yield HomeFile(rel, "skip", reason)
            elif has_index and name in (INDEX_FILE, FEEDBACK_FILE):
                yield HomeFile(rel, "index")  # both copied by the project's Store.backup()
            elif rel == SERVER_DB:
                yield HomeFile(rel, "server")
            elif rel == EMBEDDINGS_DB:
                yield HomeFile(rel, "embeddings")
            elif name.endswith(".db"):  # another SQLite file (the meter, the model ledger): copied online
                yield HomeFile(rel, "database")
            else:
                yield HomeFile(rel, "file")


def index_folders(home: Path) -> list[str]:
    """Folders (relative to the home) that hold a project index."""
    return sorted({str(Path(f.rel).parent.as_posix()) for f in home_files(home)
                   if f.kind == "index" and f.rel.endswith(INDEX_FILE)})


def has_data(home: Path) -> bool:
    """True when the home holds an index, the server database or the embedding cache."""
    return any(f.kind in ("index", "server", "embeddings") for f in home_files(home)) if home.is_dir() else False
