"""FeedbackStore: which search results users marked helpful or not, kept beside the index.

Its own small SQLite file (`feedback.db` in the index folder), keyed by path and qualified
symbol rather than chunk id, so marks survive re-indexing and the index schema stays
untouched. SqliteStore owns it (`record_feedback`, `feedback_marks`); search turns the net
count of marks into a small, bounded boost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

from prism.index.sqlite_db import open_database, transaction
from prism.index.store import FeedbackMark

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    path       TEXT NOT NULL,
    symbol     TEXT NOT NULL,
    helpful    INTEGER NOT NULL,  -- +1 helpful, -1 not helpful
    query      TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_path ON feedback(path, symbol);
"""


class FeedbackStore:
    """Usage feedback for one project."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Read-only (or empty, in memory) in a read-only PRISM_HOME.
        self.conn = open_database(path, [(1, _SCHEMA)], memory_if_unwritable=True)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.conn.close()

    def record(self, path: str, symbol: str, helpful: bool, query: str = "") -> None:
        """Store one mark for a result (path + qualified symbol, "" for the whole file)."""
        with self._lock:
            self.conn.execute(
                "INSERT INTO feedback(path, symbol, helpful, query, created_at) VALUES (?,?,?,?,?)",
                (path, symbol, 1 if helpful else -1, query[:2000], time.time()))

    def export(self) -> list[FeedbackMark]:
        """Every mark, oldest first."""
        with self._lock:
            rows = self.conn.execute("SELECT path, symbol, helpful, query, created_at FROM feedback "
                                     "ORDER BY created_at, rowid").fetchall()
        return [FeedbackMark(str(p), str(s), int(h), str(q), float(at)) for p, s, h, q, at in rows]

    def add(self, marks: Iterable[FeedbackMark]) -> None:
        """Store marks another store exported, their times kept, in one transaction."""
        with self._lock, transaction(self.conn) as conn:
            conn.executemany("INSERT INTO feedback(path, symbol, helpful, query, created_at) VALUES (?,?,?,?,?)",
                                  [(m.path, m.symbol, m.helpful, m.query, m.created_at) for m in marks])

    def net_marks(self, paths: Iterable[str]) -> dict[tuple[str, str], int]:
        """(path, symbol) → helpful minus unhelpful marks, for results in the given files."""
        wanted = sorted(set(paths))
        out: dict[tuple[str, str], int] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            rows = self.conn.execute(
                "SELECT path, symbol, SUM(helpful) FROM feedback"
                f" WHERE path IN ({','.join('?' * len(part))}) GROUP BY path, symbol", part)
            out.update(((str(r[0]), str(r[1])), int(r[2])) for r in rows)
        return out
