"""Contract suite for the RateLimiter Protocol: memory, SQLite and Redis buckets give the same decisions and headers."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from prism.serve.http.limits import (
    Decision,
    Rate,
    RateLimiter,
    RedisRateLimiter,
    SqliteRateLimiter,
    TokenBucketLimiter,
)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def build(kind: str, clock: Clock, folder: Path, request: pytest.FixtureRequest) -> RateLimiter:
    if kind == "memory":
        return TokenBucketLimiter(clock=clock)
    if kind == "redis":  # the session's real Redis; a fresh prefix keeps each test's buckets apart
        url = request.getfixturevalue("redis_url")
        return RedisRateLimiter(url, clock=clock, prefix=f"test:{uuid.uuid4().hex}:")
    return SqliteRateLimiter(folder / "ratelimit.db", clock=clock, prune_every_s=5.0)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def limiter_clock(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RateLimiter, Clock]]:
    clock = Clock()
    limiter = build(request.param, clock, tmp_path, request)
    yield limiter, clock
    if isinstance(limiter, SqliteRateLimiter | RedisRateLimiter):
        limiter.close()


def test_burst_then_refill_at_the_rate(limiter_clock: tuple[RateLimiter, Clock]) -> None:
    limiter, clock = limiter_clock
    rate = Rate.parse("3/6")  # 0.5 tokens per second
    assert [limiter.hit("k", rate).allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.hit("k", rate)
    assert refused.retry_after_s == pytest.approx(2.0)
    assert refused.headers(rate) == {"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "6",
                                     "RateLimit-Policy": "3;w=6", "Retry-After": "2"}
    clock.now += 1.9
    assert not limiter.hit("k", rate).allowed
    clock.now += 0.1
    allowed = limiter.hit("k", rate)
    assert allowed.allowed and "Retry-After" not in allowed.headers(rate)
    assert limiter.hit("other", rate).remaining == 2  # keys are independent


def test_a_refused_hit_spends_nothing(limiter_clock: tuple[RateLimiter, Clock]) -> None:
    limiter, _ = limiter_clock
    rate = Rate(10, 10.0)
    assert limiter.hit("k", rate, cost=8).remaining == 2
    refused = limiter.hit("k", rate, cost=5)
    assert not refused.allowed and refused.remaining == 2 and refused.retry_after_s == pytest.approx(3.0)
    assert limiter.hit("k", rate, cost=2).allowed
    too_big = limiter.hit("fresh", rate, cost=11)  # more than the bucket holds: refused, never negative
    assert not too_big.allowed and too_big.remaining == 10


def test_a_clock_step_back_neither_refills_nor_drains(limiter_clock: tuple[RateLimiter, Clock]) -> None:
    limiter, clock = limiter_clock
    rate = Rate(4, 4.0)
    for _ in range(4):
        limiter.hit("k", rate)
    clock.now -= 3600  # NTP or an operator set the wall clock back an hour
    assert not limiter.hit("k", rate).allowed
    clock.now += 1.0
    assert limiter.hit("k", rate).allowed  # refill resumes from the new time
    clock.now += 86_400  # and a jump forward refills at most to capacity
    assert limiter.hit("k", rate).remaining == 3


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_every_backend_decides_like_memory(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Congruence: one random sequence of keys, costs and time steps, memory and `kind`, same headers."""
    rng = random.Random(7)
    rates = {"reader": Rate.parse("5/10"), "writer": Rate.parse("50/60"), "addr": Rate.parse("3/1")}
    memory_clock, other_clock = Clock(), Clock()
    memory = build("memory", memory_clock, tmp_path, request)
    other = build(kind, other_clock, tmp_path, request)
    assert isinstance(other, SqliteRateLimiter | RedisRateLimiter)
    outcomes: list[tuple[Decision, Decision]] = []
    for _ in range(600):
        step = rng.choice([0.0, 0.0, 0.05, 0.25, 1.0, 7.5])
        memory_clock.now += step
        other_clock.now += step
        name = rng.choice(sorted(rates))
        key = f"{name}:{rng.randrange(3)}"
        cost = rng.choice([1, 1, 1, 2])
        outcomes.append((memory.hit(key, rates[name], cost), other.hit(key, rates[name], cost)))
    other.close()
    for (mem, sql), index in zip(outcomes, range(len(outcomes)), strict=True):
        assert mem == sql, f"hit {index} differs"
    assert {m.allowed for m, _ in outcomes} == {True, False}  # the sequence exercised both outcomes
    for mem, sql in outcomes:
        for rate in rates.values():
            assert mem.headers(rate) == sql.headers(rate)
