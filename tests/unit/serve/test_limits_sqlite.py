"""SqliteRateLimiter: one bucket shared by several OS processes, exact under contention; pruning; fallback."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from prism.errors import IndexCorruptError
from prism.serve.http.limits import Rate, SqliteRateLimiter
from processes import run_in_step

# One worker process: open the shared limiter, say ready, wait for "go", then hit one key from
# several threads and report what was admitted and when the first and last hits happened.
HAMMER = """
import json, sys, threading, time
from pathlib import Path
from prism.serve.http.limits import Rate, SqliteRateLimiter

path, threads, hits = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
limiter = SqliteRateLimiter(path)
rate = Rate.parse("50/5")
admitted = []
print("ready", flush=True)
sys.stdin.readline()

def spend():
    count = 0
    for _ in range(hits):
        count += limiter.hit("key:shared", rate).allowed
    admitted.append(count)

workers = [threading.Thread(target=spend) for _ in range(threads)]
first = time.time()
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
last = time.time()
print(json.dumps({"admitted": sum(admitted), "first": first, "last": last}), flush=True)
"""


def test_processes_share_one_bucket_exactly(tmp_path: Path) -> None:
    """4 processes × 4 threads on one 50/5 key admit the bucket plus what refilled meanwhile, no more."""
    path = tmp_path / "ratelimit.db"
    SqliteRateLimiter(path).close()  # created once, as `prism serve` does before its workers start
    results = run_in_step(HAMMER, [str(path), "4", "60"], processes=4)
    admitted = sum(r["admitted"] for r in results)
    elapsed = max(r["last"] for r in results) - min(r["first"] for r in results)
    rate = Rate.parse("50/5")
    # 960 hits; per-process buckets would admit 4 × 50.
    assert rate.capacity <= admitted <= rate.capacity + rate.per_second * elapsed + 1e-6, (admitted, elapsed)


def test_two_limiters_on_one_file_share_buckets(tmp_path: Path) -> None:
    first = SqliteRateLimiter(tmp_path / "r.db")
    second = SqliteRateLimiter(tmp_path / "r.db")
    rate = Rate(3, 3600.0)
    assert [first.hit("k", rate).allowed for _ in range(2)] == [True, True]
    assert second.hit("k", rate).remaining == 0
    refused = first.hit("k", rate)
    assert not refused.allowed and refused.headers(rate)["Retry-After"] == "1200"
    first.close()
    second.close()


def test_full_buckets_are_pruned(tmp_path: Path) -> None:
    now = [1_000.0]
    limiter = SqliteRateLimiter(tmp_path / "r.db", clock=lambda: now[0], prune_every_s=10.0)
    rate = Rate(2, 2.0)  # full again 1 s after one hit
    for key in ("a", "b", "c"):
        limiter.hit(key, rate)
    assert limiter.bucket_count() == 3
    now[0] += 5.0
    limiter.hit("d", rate)  # not due yet: the first hit pruned, the next prune is at 1010
    assert limiter.bucket_count() == 4
    now[0] += 7.0
    limiter.hit("d", rate)  # a, b, c have been full since 1001, over 10 s; d was just used
    assert limiter.bucket_count() == 1
    assert limiter.hit("a", rate).remaining == 1  # a pruned bucket starts full, as if kept
    limiter.close()


def test_a_locked_database_falls_back_to_process_buckets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "r.db"
    limiter = SqliteRateLimiter(path, busy_timeout_s=0.05, retry_after_s=0.0)
    rate = Rate(2, 3600.0)
    assert limiter.hit("k", rate).remaining == 1
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout
    with caplog.at_level(logging.INFO, logger="prism.http"):
        degraded = limiter.hit("k", rate)
        assert degraded.allowed and degraded.remaining == 1  # a fresh in-process bucket: requests still served
        holder.execute("ROLLBACK")
        holder.close()
        assert limiter.hit("k", rate).remaining == 0  # the shared bucket again
    messages = [r.getMessage() for r in caplog.records]
    assert any("per process" in m for m in messages) and any("works again" in m for m in messages)
    limiter.close()


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    path.write_bytes(b"not a database" * 512)
    with pytest.raises(IndexCorruptError, match="rate-limit database") as info:
        SqliteRateLimiter(path)
    assert "delete it" in info.value.hint
