"""`prism worker` for real: processes on one Redis take index jobs; one killed with SIGKILL mid-job loses nothing.

Each test starts its own redis-server (milliseconds), so the workers' default queue keys see no
other test's jobs. The test holds the project's index lock while it kills the first worker: the
job is then provably in the middle of its run (claimed, running, waiting for the lock inside the
worker), and the second worker's takeover happens while the first could not have finished it.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import reap, start_worker, wait_for

from prism.engine import Prism
from prism.index.indexer import index_lock
from prism.service.jobs import Job, RedisJobQueue
from prism.service.worker import run_worker, submit_index
from services import redis_server

SHOP = Path(__file__).parent.parent / "fixtures" / "repos" / "shop"


@pytest.fixture
def queue_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    result: dict[str, Any] = json.loads(stdout)
    return result


def test_a_job_survives_its_worker_killed_with_sigkill(tmp_path: Path, queue_url: str) -> None:
    repo = shutil.copytree(SHOP, tmp_path / "shop")
    index_dir = tmp_path / "index"
    queue = RedisJobQueue(queue_url)
    workers: list[subprocess.Popen[str]] = []
    try:
        with index_lock(index_dir):  # the job cannot finish until the test lets it
            job = submit_index(queue, repo, index_dir=index_dir)
            first = start_worker(queue_url, "first")
            workers.append(first)

            def held_by(worker: str, attempts: int) -> Callable[[], bool]:
                def check() -> bool:
                    now = queue.get(job.id)
                    return (now.state, now.worker, now.attempts) == ("running", worker, attempts)
                return check

            wait_for("the first worker to start the job", held_by("first", 1))
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=10)
            assert first.returncode == -signal.SIGKILL
            second = start_worker(queue_url, "second", "--max-jobs", "1")
            workers.append(second)
            wait_for("the second worker to take the job over", held_by("second", 2))
        report = finish(second)
    finally:
        reap(workers)
    done = queue.get(job.id)
    assert (done.state, done.worker, done.attempts, done.error) == ("done", "second", 2, "")
    assert [j["id"] for j in report["jobs"]] == [job.id] and report["jobs"][0]["state"] == "done"
    assert queue.completions(job.id) == 1  # marked done once
    source_files = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())
    assert done.result["files_indexed"] == len(source_files)
    with Prism(repo, index_dir=index_dir) as prism:  # nothing lost: every file is in the index
        assert prism.store.stats()["files"] == len(source_files)
    assert_nothing_pending(queue_url)
    queue.close()


def assert_nothing_pending(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    assert client.xpending("prism:jobs:stream", "workers")["pending"] == 0  # nothing left to redeliver
    assert client.xlen("prism:jobs:stream") == 0
    client.close()


def test_two_workers_drain_a_queue_each_job_done_once(tmp_path: Path, queue_url: str) -> None:
    queue = RedisJobQueue(queue_url)
    repos = [shutil.copytree(SHOP, tmp_path / f"shop{n}") for n in range(3)]
    jobs: list[Job] = [submit_index(queue, repo, index_dir=tmp_path / f"index{n % 3}")
                       for n, repo in enumerate(repos + repos)]  # each project twice: the second is a no-op
    workers = [start_worker(queue_url, name) for name in ("left", "right")]
    try:
        wait_for("every job to finish", lambda: all(queue.get(j.id).state == "done" for j in jobs))
        for proc in workers:
            proc.send_signal(signal.SIGTERM)  # a clean stop: the current job (none now) would finish first
        reports = [finish(proc) for proc in workers]
    finally:
        reap(workers)
    finished = [j["id"] for report in reports for j in report["jobs"]]
    assert sorted(finished) == sorted(j.id for j in jobs)  # every job reported by exactly one worker
    assert all(queue.completions(j.id) == 1 and queue.get(j.id).attempts == 1 for j in jobs)
    results = [queue.get(j.id).result for j in jobs]
    assert sum(int(r["files_indexed"]) for r in results) == 3 * len(list((tmp_path / "shop0").rglob("*.*")))
    assert_nothing_pending(queue_url)
    queue.close()


def test_a_worker_waits_out_a_redis_outage(tmp_path_factory: pytest.TempPathFactory,
                                          caplog: pytest.LogCaptureFixture) -> None:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        queue = RedisJobQueue(url)
    stop = threading.Event()  # the server is gone now
    with caplog.at_level(logging.WARNING, logger="prism.jobs"):
        worker = threading.Thread(target=run_worker, args=(queue,), kwargs={"stop": stop, "wait_s": 0.2})
        worker.start()
        wait_for("a warning", lambda: any("Redis failed" in r.getMessage() for r in caplog.records), 20)
        assert worker.is_alive()  # it retries rather than exiting
        stop.set()
        worker.join(timeout=40)
    assert not worker.is_alive()
    assert "Retrying in" in next(r.getMessage() for r in caplog.records if "Redis failed" in r.getMessage())
    queue.close()
