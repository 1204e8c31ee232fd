"""Token bucket: exact refill arithmetic, refusal with retry time, headers, independent keys."""

from __future__ import annotations

import threading

import pytest

from prism.errors import ConfigError
from prism.serve.http.limits import Rate, TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(clock=clock)
    rate = Rate.parse("3/6")  # 0.5 tokens per second
    assert [limiter.hit("k", rate).allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.hit("k", rate)
    assert refused.retry_after_s == pytest.approx(2.0)
    assert refused.headers(rate)["Retry-After"] == "2"
    assert refused.headers(rate)["RateLimit-Remaining"] == "0"
    clock.now = 1.9
    assert not limiter.hit("k", rate).allowed
    clock.now = 2.0
    assert limiter.hit("k", rate).allowed
    assert limiter.hit("other", rate).remaining == 2


def test_accepted_count_is_exact_under_threads() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(clock=clock)
    rate = Rate(100, 1.0)
    allowed = []

    def spend() -> None:
        for _ in range(100):
            allowed.append(limiter.hit("k", rate).allowed)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 100


def test_rate_parse_rejects_nonsense() -> None:
    assert Rate.parse("600/60").per_second == 10
    for bad in ("x/1", "0/1", "5/0", "5/-1"):
        with pytest.raises(ConfigError):
            Rate.parse(bad)
