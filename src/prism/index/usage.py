"""Per-project usage of `prism context`: queries, tokens served and tokens saved, for `prism stats`."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass


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
