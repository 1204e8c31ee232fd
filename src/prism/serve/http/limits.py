"""Rate limiting: the RateLimiter Protocol, its in-process and SQLite token buckets, and the RateLimit-* headers.

A `Rate` of `600/60` is a bucket of 600 tokens refilled at 10 per second: bursts up to 600,
600 per minute sustained. The Protocol has one method. `TokenBucketLimiter` keeps buckets in
process memory and is exact under threads (one lock, monotonic clock); `SqliteRateLimiter`
keeps them in one SQLite file that every worker process on the host shares (`prism serve
--workers N`), one short write transaction per hit; `RedisRateLimiter` keeps them in Redis for
several hosts (`PRISM_REDIS_URL`), one atomic Lua script per hit. All spend tokens with the same
arithmetic (`_take`, mirrored in the script), so they return the same decisions and headers for
the same sequence of hits.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prism.errors import ConfigError, IndexCorruptError
from prism.index.sqlite import connect_wal
from prism.index.sqlite_db import transaction
from prism.redis_client import connect_redis
from prism.serve.http.settings import LimiterBackend

log = logging.getLogger("prism.http")


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


def _take(tokens: float, at: float, now: float, rate: Rate, cost: int) -> tuple[float, Decision]:
    """Refill a bucket from `at` to `now`, then spend `cost` if it can: the arithmetic every backend shares.

    Time never runs backwards here (`now < at` refills nothing), so a clock step cannot drain a
    bucket; a forward step refills it at most to capacity.
    """
    tokens = min(float(rate.capacity), tokens + max(0.0, now - at) * rate.per_second)
    allowed = tokens >= cost
    if allowed:
        tokens -= cost
    return tokens, _decision(tokens, allowed, rate, cost)


def _decision(tokens: float, allowed: bool, rate: Rate, cost: int) -> Decision:
    """The headers' view of a bucket left holding `tokens` after a hit of `cost`."""
    missing = max(0.0, cost - tokens)
    return Decision(
        allowed=allowed, limit=rate.capacity, remaining=int(tokens),
        reset_s=(rate.capacity - tokens) / rate.per_second,
        retry_after_s=0.0 if allowed else missing / rate.per_second,
    )


class _Fallback:
    """In-process buckets for `retry_after_s` after a shared store fails: one warning per outage, not 500s."""

    def __init__(self, where: str, retry_after_s: float) -> None:
        self._where = where
        self._retry_after_s = retry_after_s
        self._buckets: TokenBucketLimiter | None = None
        self._until = 0.0

    def active(self) -> TokenBucketLimiter | None:
        """The local buckets while the outage's retry period runs, else None (try the store)."""
        if self._buckets is not None and time.monotonic() < self._until:
            return self._buckets
        return None

    def failed(self, exc: Exception) -> TokenBucketLimiter:
        if self._buckets is None:
            log.warning("rate-limit database %s failed (%s): limits are per process for %.0f s",
                        self._where, type(exc).__name__, self._retry_after_s)
            self._buckets = TokenBucketLimiter()
        self._until = time.monotonic() + self._retry_after_s
        return self._buckets

    def succeeded(self) -> None:
        if self._buckets is not None:
            log.info("rate-limit database %s works again: limits are shared", self._where)
            self._buckets = None


class TokenBucketLimiter:
    """In-process token buckets, one per key, forgotten LRU-first beyond `max_keys`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)
        self._lock = threading.Lock()

    def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        with self._lock:
            now = self._clock()  # under the lock, so hits are ordered in time
            tokens, at = self._buckets.get(key, (float(rate.capacity), now))
            tokens, decision = _take(tokens, at, now, rate, cost)
            self._buckets[key] = (tokens, now)
            self._buckets.move_to_end(key)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return decision


_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    key TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    at REAL NOT NULL,       -- time.time() of the last hit
    full_at REAL NOT NULL   -- when the bucket is full again: past it, the row means the same as no row
) WITHOUT ROWID
"""


class SqliteRateLimiter:
    """Token buckets in one SQLite file shared by every process on this host (e.g. uvicorn workers).

    Each hit is one `BEGIN IMMEDIATE` transaction: read the bucket, refill, spend, write, commit.
    SQLite's write lock makes that read-modify-write atomic across processes, so N workers
    together admit exactly what one bucket allows. WAL with synchronous=NORMAL keeps a commit
    to an append without fsync (losing the last hits in a power cut only refills buckets).
    One host only: SQLite locking is not reliable over network file systems (that is Redis's job).

    The clock is `time.time()`, not `time.monotonic()`: the buckets outlive processes and are
    compared across them, and Python defines no shared reference point for the monotonic clock
    (on Linux it counts from boot, so buckets written before a reboot would look like the future).
    The wall clock is read after the write lock is taken, so hits are ordered in time across
    processes; if it steps back, `_take` refills nothing for that interval, and a step forward
    refills at most to capacity.

    Every `prune_every_s`, rows whose bucket has been full for that long are deleted (they mean
    the same as no row), so the file holds only the keys seen lately. If the database fails (disk
    full, locked past the busy timeout), hits fall back to an in-process bucket for
    `retry_after_s`, with one warning, rather than failing requests.
    """

    def __init__(self, path: Path, clock: Callable[[], float] = time.time, *, prune_every_s: float = 60.0,
                 busy_timeout_s: float = 5.0, retry_after_s: float = 30.0) -> None:
        self.path = path
        self._clock = clock
        self._prune_every_s = prune_every_s
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._next_prune = 0.0
        self._fallback = _Fallback(str(path), retry_after_s)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._lock:
                self._connection()  # fail at start, not on the first request
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"The rate-limit database {path} cannot be opened: {exc}.",
                                    hint="It holds only bucket state: delete it and start again.",
                                    value=path) from exc

    def _connection(self) -> sqlite3.Connection:
        """This process's connection (a connection must not cross a fork: a child opens its own)."""
        if self._conn is None or self._pid != os.getpid():
            conn = connect_wal(self.path, timeout_s=self._busy_timeout_s)
            conn.execute(_SCHEMA)
            conn.execute("PRAGMA busy_timeout=0")  # `_hit` retries itself, with much shorter sleeps
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        with self._lock:
            local = self._fallback.active()
            if local is not None:
                return local.hit(key, rate, cost)
            try:
                decision = self._hit(key, rate, cost)
            except sqlite3.Error as exc:
                self._drop_connection()
                return self._fallback.failed(exc).hit(key, rate, cost)
            self._fallback.succeeded()
            return decision

    def _hit(self, key: str, rate: Rate, cost: int) -> Decision:
        """One transaction, retried while another process holds the write lock, up to the busy timeout.

        SQLite's own busy handler sleeps 1, 2, 5 … 100 ms between tries, far longer than the
        ~30 µs another process holds the lock for; under contention that put 100+ ms on a request.
        Here a waiter sleeps 50 µs, doubling to at most 2 ms, with jitter.
        """
        deadline = 0.0
        pause_s = 50e-6
        while True:
            try:
                return self._transaction(key, rate, cost)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + self._busy_timeout_s
                if now >= deadline:
                    raise
            time.sleep(pause_s * (0.5 + random.random()))
            pause_s = min(pause_s * 2, 2e-3)

    def _transaction(self, key: str, rate: Rate, cost: int) -> Decision:
        with transaction(self._connection()) as conn:
            now = self._clock()  # after the lock: hits are ordered in time across processes
            row = conn.execute("SELECT tokens, at FROM buckets WHERE key = ?", (key,)).fetchone()
            tokens, at = (float(rate.capacity), now) if row is None else (float(row[0]), float(row[1]))
            tokens, decision = _take(tokens, at, now, rate, cost)
            conn.execute("INSERT OR REPLACE INTO buckets (key, tokens, at, full_at) VALUES (?, ?, ?, ?)",
                         (key, tokens, now, now + decision.reset_s))
            if now >= self._next_prune:
                self._next_prune = now + self._prune_every_s
                # Full for a whole period: gone means the same (the margin keeps float rounding moot).
                conn.execute("DELETE FROM buckets WHERE full_at < ?", (now - self._prune_every_s,))
        return decision

    def _drop_connection(self) -> None:
        """Forget a connection that failed; the next hit after the fallback period opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):  # already failing; the warning above says so
                conn.close()

    def bucket_count(self) -> int:
        """Rows stored (for tests and diagnostics)."""
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM buckets").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                conn.close()


# `_take` in Lua, run by Redis as one atomic step. Numbers cross as "%.17g" text both ways (Redis
# would truncate a Lua number reply to an integer), so every backend computes the same doubles.
# A bucket left alone expires once it has been full for `idle_s` (gone means the same as full).
_REDIS_HIT = """
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[4])
end
local tokens, at = capacity, now
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
if state[1] then
  tokens = tonumber(state[1])
  at = tonumber(state[2])
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
local allowed = 0
if tokens >= cost then
  allowed = 1
  tokens = tokens - cost
end
local text = string.format('%.17g', tokens)
redis.call('HSET', KEYS[1], 'tokens', text, 'at', string.format('%.17g', now))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / per_second) + tonumber(ARGV[5]))
return {allowed, text}
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every process and replica that uses the same server.

    Each hit is one Lua script (`_take`'s arithmetic), which Redis runs atomically, so N replicas
    together admit exactly what one bucket allows, in one round trip. The clock is the Redis
    server's (`TIME`), one clock for all replicas whatever their own clocks say; a test may
    inject one. If Redis fails (down, timeout), hits fall back to in-process buckets for
    `retry_after_s`, with one warning, rather than failing requests.
    """

    def __init__(self, url: str, *, clock: Callable[[], float] | None = None, prefix: str = "prism:rate:",
                 idle_s: int = 60, timeout_s: float = 1.0, retry_after_s: float = 30.0) -> None:
        self._client, self._errors = connect_redis(url, timeout_s=timeout_s)
        self._script = self._client.register_script(_REDIS_HIT)
        self._clock = clock
        self._prefix = prefix
        self._idle_s = idle_s
        self._lock = threading.Lock()  # guards the fallback state only; Redis orders the hits
        self._fallback = _Fallback("at PRISM_REDIS_URL", retry_after_s)  # the URL may hold a password

    def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        with self._lock:
            local = self._fallback.active()
        if local is not None:
            return local.hit(key, rate, cost)
        now = "" if self._clock is None else repr(self._clock())
        try:
            allowed, tokens = self._script(keys=[self._prefix + key],
                                           args=[rate.capacity, repr(rate.per_second), cost, now, self._idle_s])
        except self._errors as exc:
            with self._lock:
                local = self._fallback.failed(exc)
            return local.hit(key, rate, cost)
        with self._lock:
            self._fallback.succeeded()
        return _decision(float(tokens), bool(allowed), rate, cost)

    def close(self) -> None:
        self._client.close()


RATE_DB_FILE = "ratelimit.db"


def make_limiter(backend: LimiterBackend, folder: Path, redis_url: str | None = None) -> RateLimiter:
    """The limiter for a resolved backend name; SQLite keeps its buckets in `folder`/ratelimit.db."""
    if backend == "redis":
        if not redis_url:
            raise ConfigError("PRISM_RATE_BACKEND=redis needs PRISM_REDIS_URL.",
                              hint="Set PRISM_REDIS_URL=redis://host:6379/0.", value="PRISM_RATE_BACKEND")
        return RedisRateLimiter(redis_url)
    if backend == "sqlite":
        return SqliteRateLimiter(folder / RATE_DB_FILE)
    return TokenBucketLimiter()
