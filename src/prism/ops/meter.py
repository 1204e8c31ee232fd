"""The meter: every request, search, context pack, embedding, token served and saved, cache hit and miss,
counted per key, per project, per route and per UTC day, once, for metrics, quotas, `/usage` and `prism usage`.

It merged the two usage systems PRISM had. The server's per-credential request counter is gone
(its rows are imported into the meter once, see `SqliteMeterBackend`); `Store.record_usage`
stays the per-project log of each context pack behind `prism stats` (intent, budget, time), and
the engine's one place that records it also counts the same tokens here.

How a count gets in: the HTTP edge opens a tally for each request (`begin_request`); any layer
that does metered work calls `count(metric, n)`, which adds to the tally of the request it runs
in (anyio's worker threads inherit the context) and does nothing outside a request (the CLI).
The edge hands the finished tally to `Meter.record` with the request's key, project and route.
`Meter` batches in memory and a background thread writes every `flush_every_s`, so recording
never waits on a database and never fails a request: a write that fails is kept and retried.

A leaf module (standard library only, plus redis when configured): any layer may import it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol

log = logging.getLogger("prism.meter")

# What the meter counts. Requests and the route-level resources are counted by the edge; the
# others by the code that does the work.
METRICS = ("requests", "errors", "searches", "context_packs", "index_writes", "embeddings",
           "tokens_served", "tokens_saved", "cache_hits", "cache_misses", "rate_limited", "quota_refused",
           "asks", "llm_prompt_tokens", "llm_completion_tokens")
NONE = "-"  # no key (an unauthenticated request) or no project (a server-wide route)
KEEP_DAYS = 400  # how long Redis keeps a day's counters

_tally: ContextVar[Counter[str] | None] = ContextVar("prism_meter_tally", default=None)


def count(metric: str, n: int = 1) -> None:
    """Add `n` to `metric` in the current request's tally; a no-op outside a request."""
    tally = _tally.get()
    if tally is not None and n:
        tally[metric] += n


def begin_request() -> tuple[Counter[str], Token[Counter[str] | None]]:
    tally: Counter[str] = Counter()
    return tally, _tally.set(tally)


def end_request(token: Token[Counter[str] | None]) -> None:
    _tally.reset(token)


_day_cache: tuple[int, str] = (-1, "")


def utc_day(at: float | None = None) -> str:
    """The UTC date, `YYYY-MM-DD` (formatted once a day: every request asks, several times)."""
    global _day_cache
    number = int((time.time() if at is None else at) // 86400)
    cached = _day_cache
    if cached[0] != number:
        cached = _day_cache = (number, time.strftime("%Y-%m-%d", time.gmtime(number * 86400)))
    return cached[1]


def seconds_to_next_utc_day(at: float | None = None) -> int:
    now = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds() + 0.999))


class Cell(NamedTuple):
    day: str
    key: str  # the principal's usage id (`key:<id>`, `jwt:<sub>`, `anonymous:anonymous`) or NONE
    project: str
    route: str
    metric: str


@dataclass(frozen=True)
class RequestRecord:
    """One finished request, as the edge saw it: for the meter, the metrics and the access log."""

    method: str
    route: str
    status: int
    seconds: float
    request_id: str
    key: str = NONE
    project: str = NONE
    need: str | None = None  # the route's declared action
    tally: Mapping[str, int] = field(default_factory=dict)


class MeterBackend(Protocol):
    """Where counts live: SQLite under PRISM_HOME (one host) or Redis (every replica)."""

    def add(self, counts: Mapping[Cell, int]) -> None: ...

    def rows(self, since_day: str, key: str | None = None) -> list[tuple[Cell, int]]: ...

    def claim(self, token: str, ttl_s: int) -> bool:
        """True for the first caller with `token` (in any process), False after: for "once" alerts."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meter (
    day TEXT NOT NULL, key_id TEXT NOT NULL, project TEXT NOT NULL, route TEXT NOT NULL,
    metric TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (day, key_id, project, route, metric)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (token TEXT PRIMARY KEY, at REAL NOT NULL);
"""
_LEGACY_IMPORT = "legacy-usage-import"


class SqliteMeterBackend:
    """PRISM_HOME/server/meter.db, shared by every worker on the host.

    On first open it imports the request counts the server kept before the meter (the `usage`
    table of server.db: key, day, route, requests), so `/usage` shows the same history.
    """

    def __init__(self, path: Path, legacy_db: Path | None = None) -> None:
        from prism.index.sqlite_db import connect_wal, transaction
        from prism.serve.home import create_private_file

        create_private_file(path)
        self._transaction = transaction
        self._conn = connect_wal(path)
        self._lock = threading.Lock()
        with self._lock, transaction(self._conn) as conn:  # (executescript would commit early)
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
        if legacy_db is not None and legacy_db.is_file() and self.claim(_LEGACY_IMPORT, 0):
            self._import_legacy(legacy_db)

    def _import_legacy(self, legacy_db: Path) -> None:
        try:
            source = sqlite3.connect(f"file:{legacy_db}?mode=ro", uri=True)
            try:
                rows = source.execute("SELECT day, key_id, route, requests FROM usage").fetchall()
            finally:
                source.close()
        except sqlite3.Error:  # no usage table (a database from before it, or none at all)
            return
        self.add({Cell(day, key, NONE, route, "requests"): int(n) for day, key, route, n in rows})

    def add(self, counts: Mapping[Cell, int]) -> None:
        with self._lock, self._transaction(self._conn) as conn:
            conn.executemany(
                "INSERT INTO meter (day, key_id, project, route, metric, value) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (day, key_id, project, route, metric) DO UPDATE SET value = value + excluded.value",
                [(*cell, n) for cell, n in counts.items()])

    def rows(self, since_day: str, key: str | None = None) -> list[tuple[Cell, int]]:
        where, params = "WHERE day >= ?", [since_day]
        if key is not None:
            where, params = where + " AND key_id = ?", [since_day, key]
        with self._lock:
            found = self._conn.execute(
                f"SELECT day, key_id, project, route, metric, value FROM meter {where}", params).fetchall()
        return [(Cell(*row[:5]), int(row[5])) for row in found]

    def claim(self, token: str, ttl_s: int) -> bool:
        with self._lock, self._transaction(self._conn) as conn:
            cursor = conn.execute("INSERT OR IGNORE INTO claims (token, at) VALUES (?, ?)", (token, time.time()))
            return cursor.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._conn.close()


_SEP = "\x1f"  # between a Redis hash field's parts: never in a key id, project name or route


class RedisMeterBackend:
    """One hash per UTC day (`prism:meter:<day>`), a field per key/project/route/metric, HINCRBY'd."""

    def __init__(self, url: str, prefix: str = "prism:meter:", timeout_s: float = 2.0, client: Any = None) -> None:
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._client = client
        self._prefix = prefix

    def add(self, counts: Mapping[Cell, int]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for day in {cell.day for cell in counts}:
            pipe.expire(self._prefix + day, KEEP_DAYS * 86400)
        for cell, n in counts.items():
            pipe.hincrby(self._prefix + cell.day, _SEP.join(cell[1:]), n)
        pipe.execute()

    def rows(self, since_day: str, key: str | None = None) -> list[tuple[Cell, int]]:
        found: list[tuple[Cell, int]] = []
        for day in _days_from(since_day):
            for raw, value in self._client.hgetall(self._prefix + day).items():
                parts = raw.decode().split(_SEP)
                if len(parts) == 4 and (key is None or parts[0] == key):
                    found.append((Cell(day, *parts), int(value)))
        return found

    def claim(self, token: str, ttl_s: int) -> bool:
        return bool(self._client.set(self._prefix + "claim:" + token, "1", nx=True, ex=max(ttl_s, 1)))

    def close(self) -> None:
        self._client.close()


def _days_from(since_day: str) -> Iterator[str]:
    day = datetime.strptime(since_day, "%Y-%m-%d").replace(tzinfo=UTC).date()
    today = datetime.now(UTC).date()
    while day <= today:
        yield day.isoformat()
        day += timedelta(days=1)


Sum = tuple[str, str, str, str]  # day, metric, "key" | "project" | "server", subject


def _sums(cell: Cell) -> tuple[Sum, Sum, Sum]:
    """The three running totals a cell adds to: its key's, its project's and the server's."""
    return ((cell.day, cell.metric, "key", cell.key), (cell.day, cell.metric, "project", cell.project),
            (cell.day, cell.metric, "server", ""))


class Meter:
    """Batches counts in memory; a background thread writes them every `flush_every_s`.

    `used_today` (what quotas read, several times a request) is one dictionary look-up: today's
    totals as last read from the backend, plus what this process has not written yet. Another
    worker's counts arrive within its flush interval.
    """

    def __init__(self, backend: MeterBackend, flush_every_s: float = 1.0) -> None:
        self.backend = backend
        self._pending: Counter[Cell] = Counter()
        self._unwritten: Counter[Sum] = Counter()  # the sums of `_pending` and of a batch being written
        self._written: Counter[Sum] = Counter()  # the backend's sums for today, read at each flush
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._flush_every_s = flush_every_s
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Start the flushing thread (the server does at startup; tests may flush by hand)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prism-meter", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_every_s):
            self.flush()

    def record(self, key: str, project: str, route: str, tally: Mapping[str, int],
               at: float | None = None) -> None:
        day = utc_day(at)
        with self._lock:
            for metric, n in tally.items():
                if n:
                    cell = Cell(day, key, project, route, metric)
                    self._pending[cell] += n
                    for total in _sums(cell):
                        self._unwritten[total] += n

    def flush(self) -> None:
        """Write what is pending; on failure keep it for the next flush (and warn once per outage)."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, Counter()
            try:
                if pending:
                    self.backend.add(pending)
                written: Counter[Sum] = Counter()
                today = utc_day()
                for cell, n in self.backend.rows(today):
                    if cell.day == today:
                        for total in _sums(cell):
                            written[total] += n
            except Exception as exc:  # a database or Redis failure must not lose the counts
                if not self._failing:  # one warning per outage, not one a second
                    log.warning("meter write failed, retrying every flush: %s", type(exc).__name__)
                self._failing = True
                with self._lock:
                    self._pending.update(pending)
                return
            if self._failing:
                log.warning("meter writes work again")
                self._failing = False
            with self._lock:
                self._written = written
                for cell, n in pending.items():
                    for total in _sums(cell):
                        self._unwritten[total] -= n
                self._unwritten = +self._unwritten  # drop the zeros

    def used_today(self, metric: str, *, key: str | None = None, project: str | None = None) -> int:
        """Today's total of `metric`, for one key, one project, or (neither) the whole server."""
        if key is not None:
            total = (utc_day(), metric, "key", key)
        elif project is not None:
            total = (utc_day(), metric, "project", project)
        else:
            total = (utc_day(), metric, "server", "")
        with self._lock:
            return self._written[total] + self._unwritten[total]

    def rows(self, since_day: str, key: str | None = None) -> list[tuple[Cell, int]]:
        """Every count since `since_day` (this process's pending ones written first)."""
        self.flush()
        return self.backend.rows(since_day, key)

    def claim(self, token: str, ttl_s: int = 2 * 86400) -> bool:
        try:
            return self.backend.claim(token, ttl_s)
        except Exception as exc:
            log.warning("meter claim failed: %s", type(exc).__name__)
            return False

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.flush()
        try:
            self.backend.close()
        except Exception:  # closing is best effort
            log.debug("meter backend close failed", exc_info=True)


def open_meter(home: Path, redis_url: str | None = None, flush_every_s: float = 1.0) -> Meter:
    """The server's meter: Redis when PRISM_REDIS_URL is set, else PRISM_HOME/server/meter.db."""
    folder = home / "server"
    backend: MeterBackend
    if redis_url:
        backend = RedisMeterBackend(redis_url)
    else:
        backend = SqliteMeterBackend(folder / "meter.db", legacy_db=folder / "server.db")
    return Meter(backend, flush_every_s)


def totals(rows: Iterable[tuple[Cell, int]], by: tuple[str, ...]) -> dict[tuple[str, ...], Counter[str]]:
    """Sum rows into {(the `by` fields of a cell): Counter(metric → value)}, e.g. by=("day", "key")."""
    out: dict[tuple[str, ...], Counter[str]] = {}
    for cell, n in rows:
        group = tuple(getattr(cell, name) for name in by)
        out.setdefault(group, Counter())[cell.metric] += n
    return out
