"""Scale-out, the must-show: two `prism serve` replicas and two `prism worker` processes share nothing but
one PostgreSQL (keys, projects, audit log, every project's index) and one Redis (rate limits, quota
counters, the job queue).

Each replica and each worker has a PRISM_HOME of its own, as if on its own host; the project is a
server path every process can read (a checkout on shared storage). The cluster starts once for
the module, on a scratch database and a Redis database number of its own, so no other test's
rows, buckets or jobs are in the way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from tests.e2e.conftest import API_SECRET, admin_key, reap, serve, start_worker, wait_for

from prism.index.indexer import index_lock
from prism.service.jobs import RedisJobQueue
from services import scratch_database

pytestmark = pytest.mark.slow

SHOP = Path(__file__).parent.parent / "fixtures" / "repos" / "shop"
READER_BURST = 6  # refilled one token per 100 s: nothing refills during the test
SEARCH_QUOTA = 4  # searches per key per day
REDIS_DB = 7  # the cluster's own Redis keyspace (the queue's keys have a fixed prefix)


@dataclass
class Cluster:
    replicas: list[httpx.Client]
    workers: dict[str, subprocess.Popen[str]]
    admin: str  # an admin key, made in the shared store before anything started
    database_url: str
    redis_url: str
    repos: Path  # PRISM_ALLOWED_ROOTS: the checkouts every process can read
    homes: list[Path]  # each replica's PRISM_HOME

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin}"}

    def key(self, role: str) -> tuple[str, str]:
        """A new key made through replica 1: (key id, secret)."""
        made = self.replicas[0].post("/api/v1/keys", json={"name": f"{role}-key", "role": role}, headers=self.auth())
        assert made.status_code == 201, made.text
        return made.json()["key"]["key_id"], made.json()["api_key"]

    def project(self, name: str) -> Path:
        """A path project over a fresh copy of the shop repository, created through replica 1."""
        repo = shutil.copytree(SHOP, self.repos / name)
        made = self.replicas[0].post("/api/v1/projects", json={"name": name, "path": str(repo)}, headers=self.auth())
        assert made.status_code == 201, made.text
        return repo


def redis_database(url: str, number: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{number}"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("scale-out")
    repos = root / "repos"
    repos.mkdir()
    redis = redis_database(redis_url, REDIS_DB)
    with ExitStack() as stack:
        database = stack.enter_context(scratch_database(postgres_url))
        import redis as redis_client

        flushed = redis_client.Redis.from_url(redis)
        flushed.flushdb()
        flushed.close()
        shared = {"PRISM_DATABASE_URL": database, "PRISM_REDIS_URL": redis}
        homes = [root / f"replica{n}" for n in range(2)]
        admin = admin_key(homes[0], database)  # in PostgreSQL: replica 2 has never seen homes[0]
        replicas = [stack.enter_context(serve(home, root / f"{home.name}.log", **shared,
                                              PRISM_ALLOWED_ROOTS=str(repos),
                                              PRISM_RATE_READER=f"{READER_BURST}/{READER_BURST * 100}",
                                              PRISM_QUOTAS=json.dumps([{"resource": "searches", "per": "key",
                                                                        "limit": SEARCH_QUOTA}])))[0]
                    for home in homes]
        workers = {name: start_worker(redis, name, **shared, PRISM_HOME=str(root / name), PRISM_EMBEDDER="hashing")
                   for name in ("worker1", "worker2")}
        stack.callback(reap, list(workers.values()))
        yield Cluster(replicas, workers, admin, database, redis, repos, homes)


def test_a_rate_limit_is_exact_across_both_replicas(cluster: Cluster) -> None:
    _, reader = cluster.key("reader")

    def call(n: int) -> tuple[int, int]:
        return n % 2, cluster.replicas[n % 2].get("/api/v1/projects", headers=cluster.auth(reader)).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:  # 24 concurrent requests, half to each replica
        results = list(pool.map(call, range(24)))
    statuses = [status for _, status in results]
    assert statuses.count(200) == READER_BURST and statuses.count(429) == 24 - READER_BURST, statuses
    assert {replica for replica, status in results if status == 429} == {0, 1}  # both refuse, from one bucket


def test_both_replicas_count_into_one_quota_and_either_refuses_past_it(cluster: Cluster) -> None:
    cluster.project("quota")
    indexed = cluster.replicas[0].post("/api/v1/projects/quota/index", json={}, headers=cluster.auth())
    assert indexed.status_code == 200, indexed.text
    key_id, writer = cluster.key("writer")
    for n in range(SEARCH_QUOTA):  # two searches through each replica
        found = cluster.replicas[n % 2].post("/api/v1/projects/quota/search", json={"query": "cart total"},
                                             headers=cluster.auth(writer))
        assert found.status_code == 200 and found.json()["results"], found.text

    def used_on(replica: httpx.Client) -> int:
        rows = replica.get("/api/v1/usage/quotas", headers=cluster.auth()).json()["quotas"]
        return sum(int(r["used"]) for r in rows if r["subject"] == f"key:{key_id}")

    # Each replica writes its counts to Redis within its meter's flush interval (1 s).
    wait_for("both replicas to see every search", lambda: [used_on(r) for r in cluster.replicas] == [SEARCH_QUOTA] * 2)
    for replica in cluster.replicas:
        refused = replica.post("/api/v1/projects/quota/search", json={"query": "cart"}, headers=cluster.auth(writer))
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded", refused.text
    assert [used_on(r) for r in cluster.replicas] == [SEARCH_QUOTA] * 2  # a refused search spends nothing


def test_a_key_revoked_on_one_replica_is_refused_at_once_by_the_other(cluster: Cluster) -> None:
    key_id, reader = cluster.key("reader")  # made through replica 1
    assert cluster.replicas[1].get("/api/v1/projects", headers=cluster.auth(reader)).status_code == 200
    revoked = cluster.replicas[0].delete(f"/api/v1/keys/{key_id}", headers=cluster.auth())
    assert revoked.status_code == 200 and revoked.json()["revoked_at"], revoked.text
    refused = cluster.replicas[1].get("/api/v1/projects", headers=cluster.auth(reader))  # no wait, no retry
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "key_revoked", refused.text
    events = cluster.replicas[1].get("/api/v1/audit", headers=cluster.auth()).json()["events"]
    assert any(e["event"] == "key.revoke" and e["target"] == key_id for e in events)  # one audit log


def test_prism_keys_on_another_host_revokes_for_every_replica(cluster: Cluster, tmp_path: Path) -> None:
    key_id, reader = cluster.key("reader")
    env = {**os.environ, "PRISM_HOME": str(tmp_path / "ops-host"), "PRISM_DATABASE_URL": cluster.database_url,
           "PRISM_API_SECRET": API_SECRET, "PRISM_ENVIRONMENT": "development"}
    done = subprocess.run([sys.executable, "-m", "prism", "keys", "revoke", key_id, "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["key"]["revoked_at"]
    for replica in cluster.replicas:
        refused = replica.get("/api/v1/projects", headers=cluster.auth(reader))
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "key_revoked", refused.text
    assert not (tmp_path / "ops-host" / "server" / "server.db").exists()  # the CLI used PostgreSQL too


def test_an_index_job_survives_its_worker_killed_with_sigkill(cluster: Cluster) -> None:
    repo = cluster.project("shop")
    record = cluster.replicas[0].get("/api/v1/projects/shop", headers=cluster.auth()).json()
    assert record["indexed"] is False
    queue = RedisJobQueue(cluster.redis_url)
    index_dir = cluster.homes[0] / "server" / "indexes" / "shop"  # where the job's indexer takes its lock
    try:
        with index_lock(index_dir):  # the job cannot finish until the test lets it
            queued = cluster.replicas[0].post("/api/v1/projects/shop/jobs", json={}, headers=cluster.auth())
            assert queued.status_code == 202, queued.text
            job_id = queued.json()["id"]
            wait_for("a worker to start the job", lambda: queue.get(job_id).state == "running")
            wait_for("the job's generation to begin", lambda: cluster.replicas[1].get(
                "/api/v1/projects/shop", headers=cluster.auth()).json()["state"] == "indexing")
            first = queue.get(job_id).worker
            survivor = next(name for name in cluster.workers if name != first)
            cluster.workers[first].send_signal(signal.SIGKILL)  # mid-job: claimed, running, inside the indexer
            cluster.workers[first].communicate(timeout=10)
            assert cluster.workers[first].returncode == -signal.SIGKILL
            wait_for("the other worker to take the job over",
                     lambda: (queue.get(job_id).worker, queue.get(job_id).attempts) == (survivor, 2))

        def polled() -> dict[str, Any]:  # through the other replica
            job: dict[str, Any] = cluster.replicas[1].get(f"/api/v1/projects/shop/jobs/{job_id}",
                                                          headers=cluster.auth()).json()
            return job

        wait_for("the job to finish", lambda: polled()["state"] in ("done", "failed"))
        done = polled()
        files = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())
        assert (done["state"], done["attempts"], done["error"]) == ("done", 2, None), done
        assert done["result"]["files_indexed"] == len(files)
        assert queue.completions(job_id) == 1  # finished once
        for replica in cluster.replicas:  # nothing lost: the whole index, in PostgreSQL, served by both
            project = replica.get("/api/v1/projects/shop", headers=cluster.auth()).json()
            assert (project["indexed"], project["state"]) == (True, "ready"), project
            stats = replica.get("/api/v1/projects/shop/stats", headers=cluster.auth())
            assert stats.status_code == 200 and stats.json()["stats"]["files"] == len(files), stats.text
            found = replica.post("/api/v1/projects/shop/search", json={"query": "cart total"}, headers=cluster.auth())
            assert found.status_code == 200 and found.json()["results"], found.text
        assert not (index_dir / "index.db").exists()  # the index is in PostgreSQL, not on a replica's disk
        worker = cluster.workers[survivor]
        worker.send_signal(signal.SIGTERM)
        stdout, stderr = worker.communicate(timeout=60)
        assert worker.returncode == 0, stderr
        assert [job["id"] for job in json.loads(stdout)["jobs"]] == [job_id]  # and reported by one worker
    finally:
        queue.close()
