"""Approximate dense search for a large embedded store: the HNSW main, the exact delta, the rebuilds.

Searches take candidates from the main (`ann.py`), add the delta — vectors of chunks newer
than the main, found through the id the main stopped at and the `ann_log` table that the
schema's triggers fill — and score them all: the delta exactly against the float32 vectors in
SQLite, the main's candidates (minus every chunk deleted or changed since) with the main's f16
copies, within 1e-4 of float32 (an i8 main's candidates are read from SQLite instead), so
deleted chunks drop out and changed ones count with their new text. Writes never wait: a
rebuild runs in a thread after an index run, when the delta has grown past a share of the main,
and readers move to the new main at their next search.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from prism.index.ann import AnnConfig, MainIndex, build_main, info_path, open_main, read_info, remove_stale
from prism.index.sqlite_db import connect_wal, transaction
from prism.index.sqlite_vectors import best_similarities

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("prism.index")

MAX_CANDIDATES = 4096  # per query row, however selective the filters

# CROSS JOIN keeps SQLite's loops in this order: from the few chunks asked about to their
# vectors, never a scan of every vector of the model.
_VECTOR = "CROSS JOIN embeddings e ON e.model = ? AND e.text_hash = c.text_hash"
_VECTORS = f"SELECT c.id, e.vector FROM chunks c {_VECTOR}"
_DELTA = (  # params: (model, max_chunk_id, model, log_seq, model, log_seq); a chunk may come twice
    f"{_VECTORS} WHERE c.id > ?"
    f" UNION ALL SELECT c.id, e.vector FROM ann_log l CROSS JOIN chunks c ON c.id = l.chunk_id {_VECTOR}"
    " WHERE l.seq > ?"
    f" UNION ALL SELECT c.id, e.vector FROM ann_log l CROSS JOIN chunks c ON c.text_hash = l.text_hash {_VECTOR}"
    " WHERE l.seq > ?"
)


class Delta:
    """What changed since a main was built: the current vectors of new or changed chunks, and
    every main id whose chunk may have changed or gone (`hidden`: never taken from the main)."""

    def __init__(self, ids: np.ndarray, matrix: np.ndarray, deleted: np.ndarray) -> None:
        import numpy as np

        self.ids, self.matrix = ids, matrix
        self.hidden = np.union1d(ids, deleted)


def matrix_of(rows: sqlite3.Cursor, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 matrix) from (chunk id, vector blob) rows, read in slices (a build reads all)."""
    import numpy as np

    ids, parts = [np.empty(0, dtype=np.int64)], [np.empty((0, dim), dtype=np.float32)]
    while batch := rows.fetchmany(8192):
        ids.append(np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch)))
        parts.append(np.frombuffer(b"".join(r[1] for r in batch), dtype=np.float32).reshape(len(batch), dim))
    return np.concatenate(ids), np.concatenate(parts)


class SqliteAnn:
    """The approximate index of one SQLite store (one model at a time)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, config: AnnConfig) -> None:
        self.path = path
        self.config = config
        self._conn = conn
        self._lock = threading.Lock()
        self._main: tuple[tuple[str, str], MainIndex | None] | None = None  # ((model, build), opened)
        self._delta: tuple[tuple[int, str], Delta] | None = None  # ((generation, build), delta)
        self._builder: threading.Thread | None = None

    # -- search ----------------------------------------------------------------------------

    def nearest(self, model: str, queries: np.ndarray, limit: int, allowed: set[int] | None,
                generation: int) -> list[tuple[int, float]] | None:
        """Like the exact scan, through the main; None when there is no usable main."""
        import numpy as np

        if self.config.threshold <= 0:
            return None
        dim = int(queries.shape[1])
        main = self.main(model, dim)
        if main is None:
            return None
        if allowed is not None and len(allowed) <= self.config.exact_filtered:
            return best_similarities(*self.vectors_of(model, allowed, dim), queries, limit)
        delta = self.delta(main, model, dim, generation)
        k = max(64, math.ceil(limit * self.config.oversample))
        if allowed is not None:  # ask for more, so that enough of them pass the filters
            k = math.ceil(k * main.info.count / max(1, len(allowed)))
        found = main.candidates(queries, min(k, MAX_CANDIDATES))
        found = found[~np.isin(found, delta.hidden)]  # what is left is unchanged since the build
        stored = main.stored(found) if self.config.score_from_main else None
        if stored is not None:  # the main's f16 copies: no random reads of SQLite pages
            ids, matrix = found, stored
        else:
            ids, matrix = self.vectors_of(model, found.tolist(), dim)
        ids, matrix = np.concatenate([ids, delta.ids]), np.concatenate([matrix, delta.matrix])
        hits = best_similarities(ids, matrix, queries, limit, allowed)
        if allowed is not None and len(hits) < min(limit, len(allowed)):
            return best_similarities(*self.vectors_of(model, allowed, dim), queries, limit)
        return hits

    def main(self, model: str, dim: int) -> MainIndex | None:
        """The main the SQLite file names for this model, opened once per build."""
        build = self._meta("ann_build")
        if build is None:
            return None
        cached = self._main
        if cached is not None and cached[0] == (model, build):
            return cached[1]
        opened = open_main(self.path, model, dim, build)
        self._main, self._delta = ((model, build), opened), None
        return opened

    def delta(self, main: MainIndex, model: str, dim: int, generation: int) -> Delta:
        """The main's delta at this generation of the store (cached until the next write)."""
        import numpy as np

        key = (generation, main.info.build)
        cached = self._delta
        if cached is not None and cached[0] == key:
            return cached[1]
        info = main.info
        rows = self._conn.execute(_DELTA, (model, info.max_chunk_id, model, info.log_seq, model, info.log_seq))
        ids, matrix = matrix_of(rows, dim)
        ids, first = np.unique(ids, return_index=True)
        matrix = matrix[first]
        deleted = np.fromiter((r[0] for r in self._conn.execute(
            "SELECT chunk_id FROM ann_log WHERE seq > ? AND chunk_id IS NOT NULL", (info.log_seq,))), dtype=np.int64)
        found = Delta(ids, matrix, deleted)
        self._delta = (key, found)
        return found

    def vectors_of(self, model: str, ids: Iterable[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 matrix) of those chunks that exist and have a vector now."""
        import json

        listed = json.dumps([int(i) for i in ids])
        return matrix_of(self._conn.execute(
            f"SELECT c.id, e.vector FROM json_each(?) j CROSS JOIN chunks c ON c.id = j.value {_VECTOR}",
            (listed, model)), dim)

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- upkeep ----------------------------------------------------------------------------

    def maintain(self, model: str, chunks: int, *, wait: bool = False) -> None:
        """After an index run: build the main when the store has grown past the threshold, or
        rebuild it when the delta has outgrown it; in a thread, unless `wait`."""
        below = self.config.threshold <= 0 or chunks < self.config.threshold
        if below and self._meta("ann_log") is None:
            return  # small stores (most) never have a main: nothing to do
        with self._lock:
            running = self._builder is not None and self._builder.is_alive()
            if not running:
                self._builder = threading.Thread(target=self._upkeep, args=(model,), name="prism-ann-build")
                self._builder.start()
            builder = self._builder
        if wait and builder is not None:
            builder.join()

    def close(self) -> None:
        """Wait for a running build (a CLI index run ends with its main saved)."""
        builder = self._builder
        if builder is not None:
            builder.join()

    def _upkeep(self, model: str) -> None:
        from filelock import FileLock, Timeout  # a search that builds nothing need not load it

        try:
            with FileLock(str(self.path.with_name("ann-build.lock")), timeout=0):
                conn = connect_wal(self.path)
                try:
                    self._upkeep_with(conn, model)
                finally:
                    conn.close()
        except Timeout:
            return  # another process is building
        except (OSError, sqlite3.Error, RuntimeError, ValueError) as exc:
            log.warning("approximate vector index upkeep failed for %s: %s", self.path, exc)

    def _upkeep_with(self, conn: sqlite3.Connection, model: str) -> None:
        count = int(conn.execute(f"SELECT COUNT(*) FROM ({_VECTORS})", (model,)).fetchone()[0])
        if self.config.threshold <= 0 or count < self.config.threshold:
            self._retire(conn)
            return
        dim_row = conn.execute(f"{_VECTORS} LIMIT 1", (model,)).fetchone()
        dim = len(dim_row[1]) // 4
        build = conn.execute("SELECT value FROM meta WHERE key = 'ann_build'").fetchone()
        old = open_main(self.path, model, dim, None if build is None else str(build[0]))
        if old is not None:
            info = old.info
            changed = int(conn.execute(f"SELECT COUNT(DISTINCT id) FROM ({_DELTA})", (
                model, info.max_chunk_id, model, info.log_seq, model, info.log_seq)).fetchone()[0])
            changed += int(conn.execute("SELECT COUNT(*) FROM ann_log WHERE seq > ? AND chunk_id IS NOT NULL",
                                        (info.log_seq,)).fetchone()[0])
            if changed <= self.config.rebuild_fraction * info.count:
                return
        with transaction(conn):  # from here on, deletions and new vectors are logged
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('ann_log', '1')")
        conn.execute("BEGIN")  # one read snapshot (writers carry on): the vectors, the id and log they reach
        try:
            seq_row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'ann_log'").fetchone()
            log_seq = 0 if seq_row is None else int(seq_row[0])
            max_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0])
            ids, matrix = matrix_of(conn.execute(f"{_VECTORS} ORDER BY c.id", (model,)), dim)
        finally:
            conn.execute("COMMIT")
        built = build_main(self.path, model, ids, matrix, dtype=self.config.dtype, max_chunk_id=max_id,
                           log_seq=log_seq)
        if built is None:
            return
        keep_from = log_seq if old is None else min(old.info.log_seq, log_seq)
        with transaction(conn):
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('ann_build', ?)", (built.build,))
            conn.execute("DELETE FROM ann_log WHERE seq <= ?", (keep_from,))
        remove_stale(self.path, keep=built.file)
        log.info("built the approximate vector index %s: %d vectors", built.file, built.count)

    def _retire(self, conn: sqlite3.Connection) -> None:
        """Below the threshold again: exact search only, no log, no files."""
        with transaction(conn):
            conn.execute("DELETE FROM meta WHERE key IN ('ann_log', 'ann_build')")
            conn.execute("DELETE FROM ann_log")
        remove_stale(self.path, keep=None)
        for path in self.path.parent.glob("ann-*.json"):
            path.unlink(missing_ok=True)


__all__ = ["AnnConfig", "SqliteAnn", "info_path", "read_info"]
