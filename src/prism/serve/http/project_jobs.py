"""Index jobs for server projects: the `index` handler that also records the project's generation.

A job queued for a server project (payload `project`) runs under that project's writer lock in
the server store (a file lock on one host, an advisory lock in PostgreSQL across hosts), so it
never runs beside an index request or another job for the project, and it records one
generation, as an index request does: every replica then reports the project `ready` (or
`failed`, or `indexing_interrupted` while a killed worker's job waits to be redelivered). An
uploaded project's files are checked out (under the lock) into this host's `folder`, whichever
replica received them, and indexed there. A job without a project, or for a project the store does
not know, runs as a plain index job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from prism.errors import IndexLockedError
from prism.serve.http.generations import generation
from prism.serve.http.server_store import ServerStore
from prism.service.jobs import Job, ProgressFn
from prism.service.worker import HANDLERS, LOCK_RETRY_S, Handler, index_job


def project_handlers(open_store: Callable[[], ServerStore], folder: Path) -> dict[str, Handler]:
    """The worker's handlers with `index` recording generations in the store `open_store` opens
    (on the first job for a server project; a worker that gets none never opens it); `folder` is
    this host's PRISM_HOME/server."""
    opened: list[ServerStore] = []
    guard = threading.Lock()

    def store() -> ServerStore:
        with guard:
            if not opened:
                opened.append(open_store())
            return opened[0]

    def index(job: Job, progress: ProgressFn, should_stop: Callable[[], bool]) -> Mapping[str, object]:
        name = job.payload.get("project")
        row = store().project(name) if name else None
        if not name or row is None:
            return index_job(job, progress, should_stop)
        while True:
            with store().project_lock(name, LOCK_RETRY_S) as held:
                if held:
                    with generation(store(), name, "indexing"):
                        return index_job(_here(job, name, row[1] == "upload"), progress, should_stop)
            if should_stop():
                raise IndexLockedError(f"Project {name!r} stayed locked by another writer.",
                                       hint="The job is delivered again later.", value=name)

    def _here(job: Job, name: str, uploaded: bool) -> Job:
        """The job with this host's folders: the uploaded files checked out here, this host's index folder."""
        payload = {**job.payload, "index_dir": str(folder / "indexes" / name)}
        if uploaded:
            payload["root"] = str(store().project_files(folder / "files").checkout(name))
        return replace(job, payload=payload)

    return {**HANDLERS, "index": index}
