"""RedisRateLimiter: one bucket exact across processes on one Redis, the server's clock, fallback, configuration."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from prism.errors import ConfigError
from prism.serve.http.limits import Rate, RedisRateLimiter, make_limiter
from prism.serve.http.settings import ServerSettings
from processes import run_in_step

# One replica: connect, say ready, wait for "go", hit one key from 4 threads, print what it admitted.
REPLICA = """
import json, sys, threading
from prism.serve.http.limits import Rate, RedisRateLimiter

url, prefix, hits = sys.argv[1], sys.argv[2], int(sys.argv[3])
limiter = RedisRateLimiter(url, prefix=prefix)
rate = Rate(300, 1e9)  # 300 tokens that do not refill within the test
admitted = []
print("ready", flush=True)
sys.stdin.readline()

def spend():
    admitted.append(sum(limiter.hit("key:shared", rate).allowed for _ in range(hits)))

threads = [threading.Thread(target=spend) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"admitted": sum(admitted)}), flush=True)
"""


def test_two_processes_on_one_redis_admit_exactly_one_bucket(redis_url: str) -> None:
    """2 processes × 4 threads × 60 hits on a bucket of 300: exactly 300 admitted (separate buckets:
    all 480). One process alone asks for 240, so the other always takes part, however the two are
    scheduled on a busy machine (with a bucket smaller than one process's demand, the first to
    start could drain it alone)."""
    prefix = f"test:{uuid.uuid4().hex}:"
    results = run_in_step(REPLICA, [redis_url, prefix, "60"], processes=2)
    assert sum(r["admitted"] for r in results) == 300
    assert all(r["admitted"] >= 60 for r in results)  # both took part


def test_the_server_clock_refills_and_idle_buckets_expire(redis_url: str) -> None:
    import redis

    prefix = f"test:{uuid.uuid4().hex}:"
    limiter = RedisRateLimiter(redis_url, prefix=prefix, idle_s=30)
    rate = Rate(2, 3600.0)
    assert [limiter.hit("k", rate).allowed for _ in range(3)] == [True, True, False]
    refused = limiter.hit("k", rate)
    assert 1799 < refused.retry_after_s <= 1800  # half a token short, at the server's clock
    client = redis.Redis.from_url(redis_url)
    ttl = client.ttl(prefix + "k")
    assert 3600 < ttl <= 3600 + 30  # expires once it has been full again for idle_s
    client.close()
    limiter.close()


def test_redis_down_falls_back_to_process_buckets_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    from services import free_port

    limiter = RedisRateLimiter(f"redis://:hunter2secret@127.0.0.1:{free_port()}/0", timeout_s=0.2)
    rate = Rate(2, 3600.0)
    with caplog.at_level(logging.WARNING, logger="prism.http"):
        decisions = [limiter.hit("k", rate) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]  # local buckets still limit
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "per process" in warnings[0] and "hunter2secret" not in warnings[0]
    limiter.close()


def test_configuration_picks_redis_and_refuses_a_bad_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PRISM_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert ServerSettings().limiter_backend == "redis"  # auto: Redis once it is configured
    monkeypatch.setenv("PRISM_RATE_BACKEND", "sqlite")
    assert ServerSettings().limiter_backend == "sqlite"  # an explicit choice wins
    monkeypatch.delenv("PRISM_REDIS_URL")
    monkeypatch.setenv("PRISM_RATE_BACKEND", "redis")
    with pytest.raises(ConfigError, match="needs PRISM_REDIS_URL") as info:
        make_limiter(ServerSettings().limiter_backend, tmp_path, None)
    assert "PRISM_REDIS_URL=redis://" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="not a Redis URL"):
        RedisRateLimiter("http://example.invalid/")
