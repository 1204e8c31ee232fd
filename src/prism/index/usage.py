"""Per-project usage of `prism context`: queries, tokens served and tokens saved, for `prism stats`."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("prism.usage")


@dataclass(frozen=True)
class UsageEvent:
    kind: str  # context | show
    intent: str
    budget: int
    tokens_served: int
    tokens_saved: int
    chunks: int
    seconds: float


class UsageLog:
    """Reads and writes the `usage` table (schema 002) over a store's connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def record(self, event: UsageEvent, at: float | None = None) -> None:
        self._conn.execute(
            "INSERT INTO usage(at, kind, intent, budget, tokens_served, tokens_saved, chunks, seconds)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (time.time() if at is None else at, event.kind, event.intent, event.budget,
             event.tokens_served, event.tokens_saved, event.chunks, event.seconds))

    def close(self) -> None:
        self._conn.close()

    def record_safely(self, event: UsageEvent) -> bool:
        """Record in a write transaction of its own; False (and a log line) if the index is busy.

        Usage is bookkeeping: a context answer must never fail because it could not be counted.
        """
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self.record(event)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("usage not recorded: %s", exc)
            return False
        return True

    def summary(self, since: float | None = None) -> dict[str, object]:
        """Totals and per-intent counts, optionally since a unix time."""
        where, params = ("WHERE at >= ?", (since,)) if since is not None else ("", ())
        row = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(tokens_served), 0), COALESCE(SUM(tokens_saved), 0),"
            f" COALESCE(AVG(seconds), 0), MAX(at) FROM usage {where}", params).fetchone()
        by_intent = {str(intent): int(n) for intent, n in self._conn.execute(
            f"SELECT intent, COUNT(*) FROM usage {where} GROUP BY intent ORDER BY COUNT(*) DESC",
            params)}
        return {
            "queries": int(row[0]), "tokens_served": int(row[1]), "tokens_saved": int(row[2]),
            "mean_ms": round(float(row[3]) * 1000, 1),
            "last_at": float(row[4]) if row[4] is not None else None, "by_intent": by_intent,
        }


class UsageWriter:
    """Records usage over a connection of its own, one thread at a time.

    The store's connection is shared by every request thread; a write on it while another
    thread is still reading fails at once with "database is locked" (SQLite cannot upgrade a
    read snapshot that another process has moved past), which a busy server met within seconds.
    A connection that only ever writes waits its turn instead.
    """

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._lock = threading.Lock()
        self._log: UsageLog | None = None

    def record(self, event: UsageEvent) -> bool:
        from prism.index.sqlite import connect_wal

        with self._lock:
            if self._log is None:
                try:
                    self._log = UsageLog(connect_wal(self._db_path))
                except sqlite3.Error as exc:
                    log.warning("usage not recorded: %s", exc)
                    return False
            return self._log.record_safely(event)

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None
