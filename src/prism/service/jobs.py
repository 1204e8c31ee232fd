"""Index jobs: the JobQueue Protocol and its in-process and Redis Streams queues (service/worker.py runs them).

A job is submitted (`queued`), claimed by one worker (`running`, with a lease), and finished
(`done` with a result, or `failed` with an error); a client polls it by id. Delivery is at least
once: a worker that dies (SIGKILL, lost host) stops renewing its lease, and after
`visibility_timeout_s` another worker claims the job again (`attempts` counts the deliveries).
Completion is exactly once: each delivery carries a fresh token, and only the newest lease may
report progress or finish, so a worker that lost its lease cannot mark the job a second time.
Running a job twice must therefore be harmless, which indexing is (incremental, by hash, under
the project's index lock). After `max_attempts` deliveries that never finished, the job fails.

`InProcessJobQueue` serves one process (the embedded default: a thread of `prism serve` runs
the jobs); `RedisJobQueue` serves every replica and `prism worker` process on one Redis
(`PRISM_REDIS_URL`). The Redis queue is a Stream with one consumer group: XREADGROUP delivers,
XAUTOCLAIM takes over entries idle past the visibility timeout, the running worker's heartbeat
(XCLAIM of its own entry) keeps it from looking idle, and each state change is one Lua script,
so a claim, a heartbeat and a finish are atomic. It is written on redis-py rather than taskiq:
taskiq-redis 1.2.4's stream broker only reclaims idle entries after a read that returned new
ones (a dead worker's job waits for the next submission) and cannot extend a running job's
lease, so its idle timeout would have to exceed the longest indexing run.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from prism.errors import BackendUnavailableError, ConfigError, NotFoundError

JobState = Literal["queued", "running", "done", "failed"]
FINISHED: frozenset[str] = frozenset({"done", "failed"})
ProgressFn = Callable[[str, int, int], None]  # phase, done, total: the indexer's progress callback

VISIBILITY_TIMEOUT_S = 30.0
MAX_ATTEMPTS = 3
KEEP_FINISHED_S = 7 * 86_400  # how long a finished job can still be polled


@dataclass(frozen=True)
class Job:
    """One unit of work and where it stands; `to_dict` is what the API and `prism worker --json` show."""

    id: str
    kind: str
    payload: dict[str, str]
    state: JobState = "queued"
    phase: str = ""
    done: int = 0
    total: int = 0
    attempts: int = 0
    error: str = ""
    result: dict[str, object] = field(default_factory=dict)
    worker: str = ""
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "state": self.state, "payload": self.payload,
                "progress": {"phase": self.phase, "done": self.done, "total": self.total},
                "attempts": self.attempts, "error": self.error or None, "result": self.result or None,
                "worker": self.worker or None, "created_at": self.created_at, "started_at": self.started_at,
                "finished_at": self.finished_at}


@dataclass(frozen=True)
class Lease:
    """One delivery of a job to one worker; only the newest lease may report on the job."""

    job: Job
    token: str
    worker: str
    message_id: str = ""  # the Redis stream entry


class JobQueue(Protocol):
    """Where jobs wait, who runs them, and what became of them."""

    def submit(self, kind: str, payload: Mapping[str, str]) -> Job:
        """Queue a job; the returned job's id is what a client polls."""
        ...

    def get(self, job_id: str) -> Job:
        """The job as it stands now; NotFoundError for an unknown (or long finished) id."""
        ...

    def claim(self, worker: str, wait_s: float) -> Lease | None:
        """The next job for `worker` (a new one, or one whose lease expired), waiting up to `wait_s`."""
        ...

    def heartbeat(self, lease: Lease, phase: str = "", done: int = 0, total: int = 0) -> bool:
        """Renew the lease and record progress; False once the lease is lost (the job went to another worker)."""
        ...

    def finish(self, lease: Lease, result: Mapping[str, object]) -> bool:
        """Mark the job done; False (and nothing changed) unless `lease` is the job's current one."""
        ...

    def fail(self, lease: Lease, error: str) -> bool:
        """Mark the job failed with `error`; False unless `lease` is the job's current one."""
        ...

    def backlog(self) -> dict[str, int]:
        """Jobs waiting for a worker (`queued`) and leased to one (`running`), for the metrics."""
        ...

    def close(self) -> None:
        ...


def new_job(kind: str, payload: Mapping[str, str]) -> Job:
    return Job(id=uuid.uuid4().hex, kind=kind, payload=dict(payload), created_at=time.time())


def unknown_job(job_id: str) -> NotFoundError:
    days = KEEP_FINISHED_S // 86_400
    return NotFoundError(f"No job {job_id!r}.", value=job_id,
                         hint=f"Use the id an index request returned; finished jobs are kept {days} days.")


def gave_up(attempts: int) -> str:
    return (f"Gave up after {attempts} attempts: the worker running it stopped each time (killed, out of "
            "memory or lost). Check the workers' logs, then submit the job again.")


class InProcessJobQueue:
    """Jobs in this process's memory, run by worker threads (the embedded default; lost on restart)."""

    def __init__(self, *, visibility_timeout_s: float = VISIBILITY_TIMEOUT_S, max_attempts: int = MAX_ATTEMPTS,
                 keep_finished: int = 1000) -> None:
        self._visibility_s = visibility_timeout_s
        self._max_attempts = max_attempts
        self._keep_finished = keep_finished
        self._jobs: dict[str, Job] = {}
        self._leases: dict[str, tuple[str, float]] = {}  # job id → (token, lease deadline, monotonic)
        self._ready: deque[str] = deque()
        self._changed = threading.Condition()

    def submit(self, kind: str, payload: Mapping[str, str]) -> Job:
        job = new_job(kind, payload)
        with self._changed:
            self._jobs[job.id] = job
            self._ready.append(job.id)
            self._forget_old()
            self._changed.notify()
        return job

    def get(self, job_id: str) -> Job:
        with self._changed:
            job = self._jobs.get(job_id)
        if job is None:
            raise unknown_job(job_id)
        return job

    def claim(self, worker: str, wait_s: float) -> Lease | None:
        deadline = time.monotonic() + wait_s
        with self._changed:
            while True:
                job_id = self._next_job()
                if job_id is not None:
                    job = self._jobs[job_id]
                    if job.attempts >= self._max_attempts:
                        self._jobs[job_id] = replace(job, state="failed", error=gave_up(job.attempts),
                                                     finished_at=time.time())
                        self._leases.pop(job_id, None)
                        continue
                    token = uuid.uuid4().hex
                    job = replace(job, state="running", attempts=job.attempts + 1, worker=worker,
                                  started_at=time.time())
                    self._jobs[job_id] = job
                    self._leases[job_id] = (token, time.monotonic() + self._visibility_s)
                    return Lease(job, token, worker)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(min(remaining, self._visibility_s / 4))

    def _next_job(self) -> str | None:
        """A queued job, else a running one whose lease ran out (its worker stopped renewing it)."""
        if self._ready:
            return self._ready.popleft()
        now = time.monotonic()
        return next((job_id for job_id, (_, until) in self._leases.items() if until <= now), None)

    def heartbeat(self, lease: Lease, phase: str = "", done: int = 0, total: int = 0) -> bool:
        with self._changed:
            if not self._holds(lease):
                return False
            self._leases[lease.job.id] = (lease.token, time.monotonic() + self._visibility_s)
            if phase:
                self._jobs[lease.job.id] = replace(self._jobs[lease.job.id], phase=phase, done=done, total=total)
            return True

    def finish(self, lease: Lease, result: Mapping[str, object]) -> bool:
        return self._end(lease, state="done", result=dict(result))

    def fail(self, lease: Lease, error: str) -> bool:
        return self._end(lease, state="failed", error=error)

    def _end(self, lease: Lease, **changes: Any) -> bool:
        with self._changed:
            if not self._holds(lease):
                return False
            del self._leases[lease.job.id]
            self._jobs[lease.job.id] = replace(self._jobs[lease.job.id], finished_at=time.time(), **changes)
            return True

    def _holds(self, lease: Lease) -> bool:
        held = self._leases.get(lease.job.id)
        return held is not None and held[0] == lease.token

    def backlog(self) -> dict[str, int]:
        with self._changed:
            return {"queued": len(self._ready), "running": len(self._leases)}

    def _forget_old(self) -> None:
        finished = [job for job in self._jobs.values() if job.state in FINISHED]
        for job in sorted(finished, key=lambda j: j.finished_at or 0.0)[:max(0, len(finished) - self._keep_finished)]:
            del self._jobs[job.id]

    def close(self) -> None:
        pass


# Each script checks that the caller holds the job's current lease (its token) before it changes
# anything, so a stale worker's heartbeat, finish or fail is a no-op. KEYS: job hash, stream.
_START = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'done' or state == 'failed' then
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
  return 0
end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if attempts >= tonumber(ARGV[6]) then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'error', ARGV[7], 'finished_at', ARGV[5], 'token', '')
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[8])
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'running', 'attempts', attempts + 1, 'token', ARGV[3], 'worker', ARGV[4],
           'started_at', ARGV[5], 'message_id', ARGV[2])
return attempts + 1
"""
_HEARTBEAT = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('XCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, ARGV[4], 'JUSTID')
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'phase', ARGV[5], 'done', ARGV[6], 'total', ARGV[7])
end
return 1
"""
_END = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[4], ARGV[5], ARGV[6], 'finished_at', ARGV[7], 'token', '')
redis.call('HINCRBY', KEYS[1], 'completions', 1)
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[8])
return 1
"""


class RedisJobQueue:
    """Jobs in Redis (a Stream with one consumer group plus one hash per job), shared by every process using it."""

    GROUP = "workers"

    def __init__(self, url: str, *, namespace: str = "prism:jobs:",
                 visibility_timeout_s: float = VISIBILITY_TIMEOUT_S, max_attempts: int = MAX_ATTEMPTS,
                 keep_finished_s: int = KEEP_FINISHED_S) -> None:
        try:
            import redis
        except ImportError as exc:
            raise ConfigError("PRISM_REDIS_URL is set but the redis client is not installed.",
                              hint="pip install 'prism-context[scale]'", value="redis") from exc
        self._redis_errors: tuple[type[Exception], ...] = (redis.RedisError,)
        try:
            # Reads block up to `wait_s` on the server: the socket timeout must outlast them.
            self._client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5.0,
                                                socket_timeout=visibility_timeout_s + 10.0)
        except ValueError as exc:
            raise ConfigError(f"PRISM_REDIS_URL is not a Redis URL: {exc}.",
                              hint="Write e.g. redis://host:6379/0 (or rediss:// for TLS).") from exc
        self._ns = namespace
        self._stream = namespace + "stream"
        self._scan_from = "0-0"  # XAUTOCLAIM's cursor over the pending entries
        self._visibility_ms = int(visibility_timeout_s * 1000)
        self._max_attempts = max_attempts
        self._keep_s = keep_finished_s
        self._start = self._client.register_script(_START)
        self._heartbeat = self._client.register_script(_HEARTBEAT)
        self._end = self._client.register_script(_END)
        with self._errors():
            try:
                self._client.xgroup_create(self._stream, self.GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):  # the group exists: another process made it first
                    raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Redis failures become one error a user can act on (HTTP 503, exit 1)."""
        try:
            yield
        except self._redis_errors as exc:
            raise BackendUnavailableError(f"The job queue's Redis failed: {type(exc).__name__}: {exc}.",
                                          hint="Check that Redis at PRISM_REDIS_URL is up and reachable.",
                                          value="PRISM_REDIS_URL") from exc

    def _key(self, job_id: str) -> str:
        return f"{self._ns}job:{job_id}"

    def submit(self, kind: str, payload: Mapping[str, str]) -> Job:
        job = new_job(kind, payload)
        with self._errors():
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(self._key(job.id), mapping={"id": job.id, "kind": kind, "payload": json.dumps(job.payload),
                                                  "state": "queued", "attempts": 0, "completions": 0,
                                                  "created_at": repr(job.created_at)})
            pipe.xadd(self._stream, {"job": job.id})
            pipe.execute()
        return job

    def get(self, job_id: str) -> Job:
        with self._errors():
            fields: dict[str, str] = self._client.hgetall(self._key(job_id))  # type: ignore[assignment]
        if not fields:
            raise unknown_job(job_id)
        return _job_from(fields)

    def completions(self, job_id: str) -> int:
        """How many times the job was marked done or failed (1 once finished; for tests and diagnostics)."""
        with self._errors():
            return int(self._client.hget(self._key(job_id), "completions") or 0)

    def claim(self, worker: str, wait_s: float) -> Lease | None:
        deadline = time.monotonic() + wait_s
        with self._errors():
            while True:
                entry = self._reclaim(worker) or self._read(worker, deadline)
                if entry is None:
                    if time.monotonic() >= deadline:
                        return None
                    continue
                message_id, job_id = entry
                token = uuid.uuid4().hex
                started = self._start(keys=[self._key(job_id), self._stream],
                                      args=[self.GROUP, message_id, token, worker, repr(time.time()),
                                            self._max_attempts, gave_up(self._max_attempts), self._keep_s])
                if started:
                    return Lease(self.get(job_id), token, worker, message_id)
                # a finished (or expired) job's leftover entry, or one given up on: acknowledged, next

    def _reclaim(self, worker: str) -> tuple[str, str] | None:
        """An entry whose worker stopped renewing it for the visibility timeout, now owned by `worker`."""
        reply: Any = self._client.xautoclaim(self._stream, self.GROUP, worker, min_idle_time=self._visibility_ms,
                                             start_id=self._scan_from, count=1)
        # Each call looks at a few pending entries from the cursor on, so idle ones behind many
        # running ones are still reached; "0-0" back means the scan went round.
        self._scan_from = str(reply[0])
        for message_id, fields in reply[1]:
            if fields:  # Redis 6.2 lists entries deleted meanwhile with no fields
                return str(message_id), str(fields["job"])
        return None

    def _read(self, worker: str, deadline: float) -> tuple[str, str] | None:
        """A new entry, blocking until one comes or `deadline` (at most a quarter visibility timeout, to reclaim)."""
        block_ms = int(max(0.0, min(deadline - time.monotonic(), self._visibility_ms / 4000)) * 1000)
        reply: Any = self._client.xreadgroup(self.GROUP, worker, {self._stream: ">"}, count=1,
                                             block=block_ms or None)
        for _, entries in reply or ():
            for message_id, fields in entries:
                return str(message_id), str(fields["job"])
        return None

    def heartbeat(self, lease: Lease, phase: str = "", done: int = 0, total: int = 0) -> bool:
        with self._errors():
            return bool(self._heartbeat(keys=[self._key(lease.job.id), self._stream],
                                        args=[lease.token, self.GROUP, lease.worker, lease.message_id,
                                              phase, done, total]))

    def finish(self, lease: Lease, result: Mapping[str, object]) -> bool:
        return self._finish(lease, "done", "result", json.dumps(dict(result), default=str))

    def fail(self, lease: Lease, error: str) -> bool:
        return self._finish(lease, "failed", "error", error)

    def _finish(self, lease: Lease, state: str, name: str, value: str) -> bool:
        with self._errors():
            return bool(self._end(keys=[self._key(lease.job.id), self._stream],
                                  args=[lease.token, self.GROUP, lease.message_id, state, name, value,
                                        repr(time.time()), self._keep_s]))

    def backlog(self) -> dict[str, int]:
        """Entries still in the stream (finished ones are deleted) less those delivered and not yet acknowledged."""
        with self._errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.xlen(self._stream)
            pipe.xpending(self._stream, self.GROUP)
            length, pending = pipe.execute()
        running = int(pending["pending"]) if isinstance(pending, dict) else 0
        return {"queued": max(0, int(length) - running), "running": running}

    def close(self) -> None:
        self._client.close()


_STATES: dict[str, JobState] = {"queued": "queued", "running": "running", "done": "done", "failed": "failed"}


def _job_from(fields: Mapping[str, str]) -> Job:
    def number(name: str) -> float | None:
        return float(fields[name]) if fields.get(name) else None

    return Job(id=fields["id"], kind=fields["kind"], payload=json.loads(fields.get("payload") or "{}"),
               state=_STATES.get(fields.get("state", ""), "queued"),
               phase=fields.get("phase", ""), done=int(fields.get("done") or 0), total=int(fields.get("total") or 0),
               attempts=int(fields.get("attempts") or 0), error=fields.get("error", ""),
               result=json.loads(fields["result"]) if fields.get("result") else {},
               worker=fields.get("worker", ""), created_at=number("created_at") or 0.0,
               started_at=number("started_at"), finished_at=number("finished_at"))


def make_job_queue(redis_url: str | None) -> JobQueue:
    """Redis when PRISM_REDIS_URL is set (every replica and `prism worker` share it), else this process's memory."""
    return RedisJobQueue(redis_url) if redis_url else InProcessJobQueue()
