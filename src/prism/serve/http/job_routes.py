"""Index jobs over HTTP: queue a project's re-index (`/api/v1/projects/{project}/jobs`) and poll the job.

The queue is Redis when PRISM_REDIS_URL is set, so any replica can answer a poll and any
`prism worker` runs the job; otherwise it is this process's memory, and one worker thread,
started with the first job, runs them. A job is polled by id alone (`/api/v1/jobs/{id}`) or
under its project; either way a key scoped to some projects sees only those projects' jobs, and
another project's job answers 404 like a made-up id, so ids tell nothing about other projects.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field

from prism.errors import PrismError
from prism.serve.http import schemas as s
from prism.serve.http.auth import Principal, server_state
from prism.serve.http.errors import FeatureUnavailableError
from prism.serve.http.project_jobs import project_handlers
from prism.serve.http.routes import endpoint
from prism.serve.http.settings import ServerSettings
from prism.service.jobs import InProcessJobQueue, Job, JobQueue, JobState, make_job_queue, unknown_job
from prism.service.worker import run_worker, submit_index

jobs_api = APIRouter(prefix="/api/v1")
_guard = threading.Lock()
SHUTDOWN_WAIT_S = 10.0

JobId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="The id a job request returned.")]


class JobRequest(s.Strict):
    force: bool = Field(False, description="Re-read and re-chunk every file.")


class JobProgress(BaseModel):
    phase: str
    done: int
    total: int


class JobResponse(BaseModel):
    id: str
    project: str
    state: JobState
    progress: JobProgress
    attempts: int = Field(description="Deliveries to a worker so far (more than 1 after a worker died).")
    error: str | None
    result: dict[str, Any] | None = Field(description="The index report, once done.")
    created_at: float
    started_at: float | None
    finished_at: float | None

    @classmethod
    def of(cls, job: Job) -> JobResponse:
        return cls(id=job.id, project=job.payload.get("project", ""), state=job.state,
                   progress=JobProgress(phase=job.phase, done=job.done, total=job.total), attempts=job.attempts,
                   error=job.error or None, result=job.result or None, created_at=job.created_at,
                   started_at=job.started_at, finished_at=job.finished_at)


@dataclass
class _Jobs:
    queue: JobQueue
    stop: threading.Event
    worker: threading.Thread | None  # in memory: the thread that runs the jobs


def job_queue(request: Request) -> JobQueue:
    """This app's queue, made on first use (and, in memory, the thread that runs its jobs)."""
    return _app_queue(request.app, server_state(request).settings)


def _app_queue(app: FastAPI, settings: ServerSettings) -> JobQueue:
    holder = app.state
    with _guard:
        jobs: _Jobs | None = getattr(holder, "prism_jobs", None)
        if jobs is None:
            url = settings.redis_url
            if url is None and settings.workers > 1:  # a poll could reach a worker that never saw the job
                raise FeatureUnavailableError("Index jobs with several server workers need Redis.",
                                              hint="Set PRISM_REDIS_URL (or run one worker).", value="PRISM_WORKERS")
            jobs = _Jobs(make_job_queue(url.get_secret_value() if url else None), threading.Event(), None)
            if isinstance(jobs.queue, InProcessJobQueue):
                store = app.state.prism.db
                jobs.worker = threading.Thread(target=run_worker, args=(jobs.queue,), name="prism-jobs", daemon=True,
                                               kwargs={"stop": jobs.stop, "handlers": project_handlers(
                                                   lambda: store, app.state.prism.projects.folder)})
                jobs.worker.start()
            holder.prism_jobs = jobs
    return jobs.queue


def job_backlog(app: FastAPI, settings: ServerSettings) -> dict[str, int]:
    """Queued and running index jobs, for the scrape: the shared Redis queue (opened for it), or
    this process's queue once a job came; {} when Redis cannot be read (the gauge is left out)."""
    if settings.redis_url is None and getattr(app.state, "prism_jobs", None) is None:
        return {"queued": 0, "running": 0}
    try:
        return _app_queue(app, settings).backlog()
    except PrismError:
        return {}


def close_jobs(app: FastAPI) -> None:
    """At shutdown: give the in-process worker a moment to finish its current job, then close the queue."""
    jobs: _Jobs | None = getattr(app.state, "prism_jobs", None)
    if jobs is None:
        return
    jobs.stop.set()
    if jobs.worker is not None:  # an unfinished job is lost with the process (it was only in memory)
        jobs.worker.join(timeout=SHUTDOWN_WAIT_S)
    jobs.queue.close()


@endpoint(jobs_api, "POST", "/projects/{project}/jobs", "index.write", status_code=202,
          summary="Queue a re-index of the project; poll the job it returns.")
def queue_index(request: Request, project: s.ProjectName, body: JobRequest) -> JobResponse:
    state = server_state(request)
    record = state.projects.get(project)  # 404 for an unknown project, before anything is queued
    job = submit_index(job_queue(request), record.root, index_dir=record.index_dir, force=body.force,
                       project=project, embedder=state.settings.embedding_model)
    return JobResponse.of(job)


@endpoint(jobs_api, "GET", "/projects/{project}/jobs/{job_id}", "projects.read",
          summary="Where an index job stands: queued, running (with progress), done (with the report) or failed.")
def get_job(request: Request, project: s.ProjectName, job_id: JobId) -> JobResponse:
    job = job_queue(request).get(job_id)
    if job.payload.get("project") != project:  # another project's job is as unknown as a made-up id
        raise unknown_job(job_id)
    return JobResponse.of(job)


@endpoint(jobs_api, "GET", "/jobs/{job_id}", "projects.read", own=True,
          summary="Where an index job stands, by id alone; only jobs of projects this credential can see.")
def get_job_by_id(request: Request, job_id: JobId) -> JobResponse:
    principal: Principal = request.state.principal
    job = job_queue(request).get(job_id)
    if not principal.allows_project(job.payload.get("project", "")):  # unseen, not forbidden: ids do not leak
        raise unknown_job(job_id)
    return JobResponse.of(job)
