"""Rate limiting: the RateLimiter Protocol, an in-process token bucket, and the RateLimit-* headers.

A `Rate` of `600/60` is a bucket of 600 tokens refilled at 10 per second: bursts up to 600,
600 per minute sustained. The Protocol has one method so a Redis implementation (scale-out)
can be dropped in; the in-process one is exact under threads (one lock, monotonic clock).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from prism.errors import ConfigError


@dataclass(frozen=True)
class Rate:
    """`capacity` tokens, refilled continuously over `period_s` seconds."""

    capacity: int
    period_s: float

    @property
    def per_second(self) -> float:
        return self.capacity / self.period_s

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`burst/seconds`, e.g. `600/60`."""
        count, sep, seconds = text.partition("/")
        try:
            rate = cls(int(count), float(seconds) if sep else 1.0)
        except ValueError as exc:
            raise ConfigError(f"Rate {text!r} is not `count/seconds`.", hint="Write e.g. 600/60.",
                              value=text) from exc
        if rate.capacity < 1 or not rate.period_s > 0:
            raise ConfigError(f"Rate {text!r} must have count ≥ 1 and seconds > 0.",
                              hint="Write e.g. 600/60.", value=text)
        return rate

    def __str__(self) -> str:
        return f"{self.capacity};w={self.period_s:g}"


@dataclass(frozen=True)
class Decision:
    """The outcome of one `hit`: allowed or not, and what the headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: float  # seconds until the bucket is full again
    retry_after_s: float  # seconds until `cost` tokens are available (0 when allowed)

    def headers(self, rate: Rate) -> dict[str, str]:
        """IETF draft RateLimit headers, plus Retry-After when refused."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(max(0, math.ceil(self.reset_s))),
            "RateLimit-Policy": str(rate),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_s)))
        return headers


class RateLimiter(Protocol):
    """Spends tokens from the bucket named `key`; the only method a backend must implement."""

    def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        """Take `cost` tokens if available (allowed) or take none (refused, with retry time)."""
        ...


class TokenBucketLimiter:
    """In-process token buckets, one per key, forgotten LRU-first beyond `max_keys`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)
        self._lock = threading.Lock()

    def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(rate.capacity), now))
            tokens = min(float(rate.capacity), tokens + (now - at) * rate.per_second)
            allowed = tokens >= cost
            if allowed:
                tokens -= cost
            self._buckets[key] = (tokens, now)
            self._buckets.move_to_end(key)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        missing = max(0.0, cost - tokens)
        return Decision(
            allowed=allowed, limit=rate.capacity, remaining=int(tokens),
            reset_s=(rate.capacity - tokens) / rate.per_second,
            retry_after_s=0.0 if allowed else missing / rate.per_second,
        )
