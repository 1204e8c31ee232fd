"""Index jobs for server projects: the `index` handler that also records the project's generation.

A job queued for a server project (payload `project`) runs under that project's writer lock in
the server store (a file lock on one host, an advisory lock in PostgreSQL across hosts), so it
never runs beside an index request or another job for the project, and it records one
generation, as an index request does: every replica then reports the project `ready` (or
`failed`, or `indexing_interrupted` while a killed worker's job waits to be redelivered). A job
without a project, or for a project the store does not know, runs as a plain index job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from prism.errors import IndexLockedError
from prism.serve.http.generations import generation
from prism.serve.http.server_store import ServerStore
from prism.service.jobs import Job, ProgressFn
from prism.service.worker import HANDLERS, LOCK_RETRY_S, Handler, index_job


def project_handlers(open_store: Callable[[], ServerStore]) -> dict[str, Handler]:
    """The worker's handlers with `index` recording generations in the store `open_store` opens
    (on the first job for a server project; a worker that gets none never opens it)."""
    opened: list[ServerStore] = []
    guard = threading.Lock()

    def store() -> ServerStore:
        with guard:
            if not opened:
                opened.append(open_store())
            return opened[0]

    def index(job: Job, progress: ProgressFn, should_stop: Callable[[], bool]) -> Mapping[str, object]:
        name = job.payload.get("project")
        if not name or store().project(name) is None:
            return index_job(job, progress, should_stop)
        while True:
            with store().project_lock(name, LOCK_RETRY_S) as held:
                if held:
                    with generation(store(), name, "indexing"):
                        return index_job(job, progress, should_stop)
            if should_stop():
                raise IndexLockedError(f"Project {name!r} stayed locked by another writer.",
                                       hint="The job is delivered again later.", value=name)

    return {**HANDLERS, "index": index}
