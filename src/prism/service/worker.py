"""Running index jobs: the worker loop (`prism worker`, the server's in-process thread) and the index handler.

A worker claims a job, runs its handler with a heartbeat thread beside it (renewing the lease and
reporting progress), and finishes or fails it; a handler's error fails its job, not the worker,
and a Redis outage is waited out. The handler for `index` waits for the project's index lock
rather than failing, so two jobs for one project run one after the other.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from prism.errors import BackendUnavailableError, IndexLockedError, PrismError
from prism.service.jobs import VISIBILITY_TIMEOUT_S, Job, JobQueue, Lease, ProgressFn

log = logging.getLogger("prism.jobs")

Handler = Callable[[Job, ProgressFn, Callable[[], bool]], Mapping[str, object]]  # job, progress, should_stop

LOCK_RETRY_S = 0.25


def index_job(job: Job, progress: ProgressFn, should_stop: Callable[[], bool]) -> Mapping[str, object]:
    """Bring a project's index up to date: payload `root`, optional `index_dir`, `force` ("true"), `embedder`.

    Another indexer holding the project's lock (a second job for it, `prism watch`) is waited
    for rather than failed: the job then finds little left to do.
    """
    from prism.config import Settings
    from prism.engine import Prism

    settings = Settings()
    if job.payload.get("embedder"):
        settings = settings.model_copy(update={"embedder": job.payload["embedder"]})
    index_dir = job.payload.get("index_dir")
    with Prism(job.payload["root"], settings=settings, index_dir=Path(index_dir) if index_dir else None) as prism:
        while True:
            try:
                report = prism.index(force=job.payload.get("force") == "true", progress=progress)
            except IndexLockedError:
                if should_stop():
                    raise
                time.sleep(LOCK_RETRY_S)
                continue
            return {"project": str(prism.root), **report.to_dict()}


HANDLERS: dict[str, Handler] = {"index": index_job}


def submit_index(queue: JobQueue, root: Path, *, index_dir: Path | None = None, force: bool = False,
                 project: str | None = None, embedder: str | None = None) -> Job:
    """Queue an index job; `project` names a server project, `embedder` overrides the workers' PRISM_EMBEDDER."""
    payload = {"root": str(root), "force": "true" if force else "false"}
    optional = {"index_dir": str(index_dir) if index_dir else None, "project": project, "embedder": embedder}
    payload.update({name: value for name, value in optional.items() if value})
    return queue.submit("index", payload)


def worker_name() -> str:
    """Unique per process: Redis tracks each consumer's pending entries by this name."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_worker(queue: JobQueue, *, name: str | None = None, stop: threading.Event | None = None,
               handlers: Mapping[str, Handler] = HANDLERS, max_jobs: int | None = None, wait_s: float = 1.0,
               heartbeat_s: float = VISIBILITY_TIMEOUT_S / 3,
               on_job: Callable[[Job], None] | None = None) -> list[Job]:
    """Claim and run jobs until `stop` is set (or `max_jobs` ran); returns the jobs this worker finished."""
    name = name or worker_name()
    stop = stop or threading.Event()
    finished: list[Job] = []
    pause_s = 1.0
    while not stop.is_set() and (max_jobs is None or len(finished) < max_jobs):
        try:
            lease = queue.claim(name, wait_s)
            job = None if lease is None else run_one(queue, lease, handlers, heartbeat_s, stop)
        except BackendUnavailableError as exc:  # Redis away: wait and retry; a lapsed job is redelivered
            log.warning("%s Retrying in %.0f s.", exc.message, pause_s)
            stop.wait(pause_s)
            pause_s = min(pause_s * 2, 30.0)
            continue
        pause_s = 1.0
        if job is not None:
            finished.append(job)
            if on_job is not None:
                on_job(job)
    return finished


def run_one(queue: JobQueue, lease: Lease, handlers: Mapping[str, Handler], heartbeat_s: float,
            stop: threading.Event) -> Job | None:
    """Run one leased job with a heartbeat beside it; the job as finished, or None if the lease was lost."""
    latest: list[tuple[str, int, int]] = [("", 0, 0)]
    lost = threading.Event()
    quit_beating = threading.Event()

    def beat() -> None:
        while not quit_beating.wait(heartbeat_s):
            try:
                if not queue.heartbeat(lease, *latest[-1]):
                    lost.set()
                    return
            except PrismError as exc:  # Redis away for a moment: the lease may lapse, the job rerun
                log.warning("job %s: heartbeat failed: %s", lease.job.id, exc.message)

    def progress(phase: str, done: int, total: int) -> None:
        latest.append((phase, done, total))
        del latest[:-1]

    beater = threading.Thread(target=beat, name=f"heartbeat-{lease.job.id[:8]}", daemon=True)
    beater.start()
    log.info("job %s (%s) started, attempt %d", lease.job.id, lease.job.kind, lease.job.attempts)
    try:
        handler = handlers.get(lease.job.kind)
        if handler is None:
            ended = queue.fail(lease, f"Unknown job kind {lease.job.kind!r}; this worker runs {sorted(handlers)}.")
        else:
            try:
                result = handler(lease.job, progress, lambda: stop.is_set() or lost.is_set())
            except PrismError as exc:
                ended = queue.fail(lease, f"{exc.message} {exc.hint}".strip())
            except Exception as exc:  # a bug in a handler fails its job, not the worker
                log.exception("job %s failed", lease.job.id)
                ended = queue.fail(lease, f"{type(exc).__name__}: {exc}")
            else:
                ended = queue.finish(lease, result)
    finally:
        quit_beating.set()
        beater.join()
    job = queue.get(lease.job.id)
    if not ended:
        log.warning("job %s: lease lost to another worker; its result here was dropped", lease.job.id)
        return None
    log.info("job %s %s", job.id, job.state)
    return job
