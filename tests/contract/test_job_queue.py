"""Contract suite for the JobQueue Protocol: the in-process and Redis queues give jobs the same life.

Leases expire in real time (Redis measures idleness on its own clock), so the tests that let a
lease lapse use visibility timeouts of a fraction of a second.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

import pytest

from prism.errors import InputError, NotFoundError
from prism.service.jobs import InProcessJobQueue, Job, JobQueue, ProgressFn, RedisJobQueue
from prism.service.worker import run_worker

MakeQueue = Callable[..., JobQueue]


@pytest.fixture(params=["memory", "redis"])
def make_queue(request: pytest.FixtureRequest) -> Iterator[MakeQueue]:
    """Queues of one kind; Redis queues made by one test share a fresh namespace (they are one queue)."""
    made: list[JobQueue] = []
    namespace = f"test:{uuid.uuid4().hex}:"
    shared: list[InProcessJobQueue] = []

    def make(**options: float) -> JobQueue:
        queue: JobQueue
        if request.param == "redis":
            queue = RedisJobQueue(request.getfixturevalue("redis_url"), namespace=namespace, **options)  # type: ignore[arg-type]
        else:
            if not shared:  # in one process, "several queues on one backend" is one queue object
                shared.append(InProcessJobQueue(**options))  # type: ignore[arg-type]
            queue = shared[0]
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.close()


def test_a_job_goes_from_queued_to_running_to_done(make_queue: MakeQueue) -> None:
    queue = make_queue()
    job = queue.submit("index", {"root": "/src/app"})
    assert queue.get(job.id).state == "queued" and queue.get(job.id).payload == {"root": "/src/app"}
    lease = queue.claim("w1", wait_s=2.0)
    assert lease is not None and lease.job.id == job.id
    running = queue.get(job.id)
    assert (running.state, running.attempts, running.worker) == ("running", 1, "w1")
    assert queue.heartbeat(lease, "index", 3, 10)
    assert queue.get(job.id).to_dict()["progress"] == {"phase": "index", "done": 3, "total": 10}
    assert queue.finish(lease, {"files_indexed": 10})
    done = queue.get(job.id)
    assert (done.state, done.result, done.error) == ("done", {"files_indexed": 10}, "")
    assert done.finished_at is not None and done.started_at is not None
    assert not queue.finish(lease, {"files_indexed": 99})  # finished once: a second report changes nothing
    assert not queue.heartbeat(lease)
    assert queue.get(job.id).result == {"files_indexed": 10}
    assert queue.claim("w1", wait_s=0.2) is None  # nothing left


def test_jobs_are_claimed_in_order_and_failures_keep_their_message(make_queue: MakeQueue) -> None:
    queue = make_queue()
    first, second = queue.submit("index", {"n": "1"}), queue.submit("index", {"n": "2"})
    lease = queue.claim("w", wait_s=2.0)
    assert lease is not None and lease.job.id == first.id
    assert queue.fail(lease, "Project folder /gone does not exist.")
    failed = queue.get(first.id)
    assert (failed.state, failed.error) == ("failed", "Project folder /gone does not exist.")
    following = queue.claim("w", wait_s=2.0)
    assert following is not None and following.job.id == second.id


def test_an_unknown_job_is_a_clear_not_found(make_queue: MakeQueue) -> None:
    with pytest.raises(NotFoundError, match="No job 'nope'") as info:
        make_queue().get("nope")
    assert "index request" in info.value.hint


def test_a_lapsed_lease_goes_to_another_worker_and_the_old_one_cannot_finish(make_queue: MakeQueue) -> None:
    first, second = make_queue(visibility_timeout_s=0.4), make_queue(visibility_timeout_s=0.4)
    job = first.submit("index", {})
    stale = first.claim("dead-worker", wait_s=2.0)
    assert stale is not None
    fresh = second.claim("live-worker", wait_s=5.0)  # the first worker never renews: redelivered
    assert fresh is not None and fresh.job.id == job.id and fresh.job.attempts == 2
    assert second.get(job.id).worker == "live-worker"
    assert not first.heartbeat(stale) and not first.finish(stale, {"by": "dead"})
    assert not first.fail(stale, "late")
    assert second.finish(fresh, {"by": "live"})
    assert second.get(job.id).result == {"by": "live"}
    if isinstance(second, RedisJobQueue):
        assert second.completions(job.id) == 1


def test_heartbeats_keep_a_long_job_with_its_worker(make_queue: MakeQueue) -> None:
    first, second = make_queue(visibility_timeout_s=0.5), make_queue(visibility_timeout_s=0.5)
    job = first.submit("index", {})
    lease = first.claim("busy", wait_s=2.0)
    assert lease is not None
    until = time.monotonic() + 1.5  # three visibility timeouts
    while time.monotonic() < until:
        assert first.heartbeat(lease)
        assert second.claim("idle", wait_s=0.15) is None
    assert first.finish(lease, {})
    assert first.get(job.id).attempts == 1


def test_a_job_whose_worker_keeps_dying_fails_after_max_attempts(make_queue: MakeQueue) -> None:
    queue = make_queue(visibility_timeout_s=0.3, max_attempts=2)
    job = queue.submit("index", {})
    assert queue.claim("a", wait_s=2.0) is not None
    assert queue.claim("b", wait_s=3.0) is not None  # redelivered once
    assert queue.claim("c", wait_s=1.0) is None  # not a third time
    failed = queue.get(job.id)
    assert failed.state == "failed" and failed.attempts == 2 and "Gave up after 2 attempts" in failed.error


def handlers(runs: Counter[str]) -> dict[str, Callable[[Job, ProgressFn, Callable[[], bool]], Mapping[str, object]]]:
    def count(job: Job, progress: ProgressFn, should_stop: Callable[[], bool]) -> Mapping[str, object]:
        runs[job.id] += 1
        progress("index", 1, 1)
        return {"n": job.payload["n"]}

    def refuse(job: Job, progress: ProgressFn, should_stop: Callable[[], bool]) -> Mapping[str, object]:
        raise InputError("Bad glob '['.", hint="Close the bracket.")

    def crash(job: Job, progress: ProgressFn, should_stop: Callable[[], bool]) -> Mapping[str, object]:
        raise RuntimeError("boom")

    return {"count": count, "refuse": refuse, "crash": crash}


def test_workers_run_each_job_once_and_report_errors(make_queue: MakeQueue) -> None:
    runs: Counter[str] = Counter()
    submitter = make_queue()
    jobs = [submitter.submit("count", {"n": str(n)}) for n in range(12)]
    odd = [submitter.submit(kind, {}) for kind in ("refuse", "crash", "nonsense")]
    queues = [make_queue() for _ in range(3)]
    stop = threading.Event()
    finished: list[Job] = []
    threads = [threading.Thread(target=lambda q=q: finished.extend(run_worker(  # type: ignore[misc]
        q, stop=stop, handlers=handlers(runs), wait_s=0.1, heartbeat_s=0.05))) for q in queues]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(submitter.get(j.id).state not in ("done", "failed")
                                              for j in jobs + odd):
        time.sleep(0.02)
    stop.set()
    for thread in threads:
        thread.join()
    assert all(runs[job.id] == 1 for job in jobs) and len(runs) == len(jobs)
    assert [submitter.get(job.id).result for job in jobs] == [{"n": str(n)} for n in range(12)]
    assert sorted(job.id for job in finished) == sorted(job.id for job in jobs + odd)  # each reported by one worker
    refused, crashed, unknown = (submitter.get(job.id) for job in odd)
    assert refused.state == "failed" and refused.error == "Bad glob '['. Close the bracket."
    assert crashed.state == "failed" and crashed.error == "RuntimeError: boom"
    assert unknown.state == "failed" and "Unknown job kind 'nonsense'" in unknown.error


def test_an_idle_job_behind_many_running_ones_is_still_taken_over(make_queue: MakeQueue) -> None:
    busy, other = make_queue(visibility_timeout_s=1.0), make_queue(visibility_timeout_s=1.0)
    jobs = [busy.submit("index", {"n": str(n)}) for n in range(15)]
    leases = [busy.claim("busy", wait_s=2.0) for _ in jobs]
    assert all(lease is not None for lease in leases) and len({lease.job.id for lease in leases if lease}) == 15
    alive, abandoned = [lease for lease in leases[:-1] if lease], leases[-1]
    assert abandoned is not None
    stop = threading.Event()

    def keep_alive() -> None:  # the first 14 jobs stay with their worker; the last is abandoned
        while not stop.wait(0.2):
            for lease in alive:
                busy.heartbeat(lease)

    beater = threading.Thread(target=keep_alive)
    beater.start()
    try:
        taken = other.claim("other", wait_s=8.0)
    finally:
        stop.set()
        beater.join()
    assert taken is not None and taken.job.id == abandoned.job.id == jobs[-1].id


def test_the_backlog_counts_queued_and_running_jobs(make_queue: MakeQueue) -> None:
    queue = make_queue()
    assert queue.backlog() == {"queued": 0, "running": 0}
    first, _ = queue.submit("index", {"root": "/a"}), queue.submit("index", {"root": "/b"})
    assert queue.backlog() == {"queued": 2, "running": 0}
    lease = queue.claim("w1", wait_s=2.0)
    assert lease is not None and lease.job.id == first.id
    assert queue.backlog() == {"queued": 1, "running": 1}
    assert queue.finish(lease, {})
    assert queue.backlog() == {"queued": 1, "running": 0}
    second = queue.claim("w1", wait_s=2.0)
    assert second is not None and queue.fail(second, "broken")
    assert queue.backlog() == {"queued": 0, "running": 0}
