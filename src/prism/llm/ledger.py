"""The usage ledger: tokens and dollars each provider spent per UTC day, in PRISM_HOME/llm_usage.db.

One small SQLite file (WAL, safe across processes), so the router's daily budgets hold across
CLI runs and server workers on one machine.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

LEDGER_FILE = "llm_usage.db"


@dataclass(frozen=True)
class Spent:
    tokens: int = 0
    usd: float = 0.0


def utc_day(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() if at is None else at))


class UsageLedger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS calls (day TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,"
            " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, usd REAL NOT NULL,"
            " at REAL NOT NULL)")
        self._conn.execute("CREATE INDEX IF NOT EXISTS calls_day ON calls(day, provider)")

    def record(self, provider: str, model: str, prompt_tokens: int, completion_tokens: int,
               usd: float | None, at: float | None = None) -> None:
        now = time.time() if at is None else at
        self._conn.execute("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (utc_day(now), provider, model, prompt_tokens, completion_tokens, usd or 0.0, now))

    def spent_today(self, provider: str, at: float | None = None) -> Spent:
        row = self._conn.execute(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(usd), 0)"
            " FROM calls WHERE day=? AND provider=?", (utc_day(at), provider)).fetchone()
        return Spent(int(row[0]), float(row[1]))

    def close(self) -> None:
        self._conn.close()
