"""SqliteStore: the embedded index — files, chunks, full-text, code graph and vectors in one SQLite file.

All SQL of the embedded backend lives here. WAL mode lets searches read while an indexer
writes; every write method is one transaction, so a killed process leaves either the old
or the new state of a file, never half of it. Longer than most modules because it is one
backend's whole Store (`index/store.py`); opening and migrating files is `sqlite_db.py`,
the vector matrix snapshots and brute-force scan are `sqlite_vectors.py`, the approximate
index that replaces the scan for large stores is `sqlite_ann.py`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from prism.errors import InputError, PrismError
from prism.index.ann import AnnConfig
from prism.index.feedback import FeedbackStore
from prism.index.sqlite_ann import SqliteAnn
from prism.index.sqlite_db import (
    Migration,
    connect_wal,
    is_aborted,
    open_database,
    prism_errors,
    transaction,
)
from prism.index.sqlite_vectors import (
    best_similarities,
    best_similarities_many,
    load_snapshot,
    save_snapshot,
    snapshot_paths,
)
from prism.index.store import (
    CHUNK_COLUMNS,
    HEAD_COLUMNS,
    UNHASHED,
    USAGE_COLUMNS,
    FileRecord,
    FileState,
    History,
    IndexedFile,
    WeightedTerm,
    level_tokens_text,
    row_to_chunk,
    row_to_head,
    usage_row,
)
from prism.index.usage import UsageEvent
from prism.ingest.paths import place_of
from prism.models import Chunk, ChunkHead, SearchFilters, StoredChunk

if TYPE_CHECKING:  # numpy loads on the first vector operation: a lexical search never needs it
    import numpy as np

__all__ = ["FTS_WEIGHTS", "FileRecord", "FileState", "IndexedFile", "SqliteStore", "connect_wal",
           "fts_match"]

log = logging.getLogger("prism.usage")

SCHEMA_VERSION = 6  # the highest schema/NNN_*.sql migration
# bm25() column weights for (path, symbol, doc, body): names and paths say more per word.
FTS_WEIGHTS = (3.0, 6.0, 2.0, 1.0)

MAX_CACHED_TERMS = 200_000  # document counts kept per generation (a few MB)
FEEDBACK_FILE = "feedback.db"
_Row = TypeVar("_Row")  # a record built from one chunk row (StoredChunk, ChunkHead)


def _migrations() -> list[Migration]:
    folder = Path(__file__).with_name("schema")  # a plain package folder: importlib.resources costs ~3 ms
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def fts_match(terms: Sequence[WeightedTerm], require: Sequence[str] = ()) -> tuple[str, float]:
    """The FTS5 MATCH expression for weighted terms, and how many times the plain OR's BM25 it scores.

    FTS5's bm25() sums over the expression's phrases, so a term of weight n is listed n times.
    With `require` (a subset of the terms) the expression is `(required) AND (every term)`:
    only rows holding a required term are scored, and since each term is then listed twice
    its weight in all, a row's BM25 is exactly twice its score under the plain OR.
    """
    if not require:
        return " OR ".join(f'"{t}"' for t, n in terms for _ in range(n)), 1.0
    gate = set(require)
    right = [f'"{t}"' for t, n in terms for _ in range(2 * n - (t in gate))]
    left = " OR ".join(f'"{t}"' for t in require)
    return f"({left}) AND ({' OR '.join(right)})", 2.0


def _file_tokens(conn: sqlite3.Connection, paths: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    wanted = sorted(set(paths))
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        rows = conn.execute(
            f"SELECT path, SUM(tokens) FROM chunks WHERE path IN ({','.join('?' * len(part))})"
            " GROUP BY path", part)
        out.update({str(p): int(t) for p, t in rows})
    return out


class SqliteStore:
    """One project's index in one SQLite file (WAL), feedback in a second file beside it."""

    def __init__(self, path: Path, ann: AnnConfig | None = None) -> None:
        self.path = path
        self._conn = open_database(path, _migrations(), foreign_keys=True)
        self._ann = SqliteAnn(path, self._conn, ann or AnnConfig())
        self._lock = threading.RLock()
        self._vectors: tuple[str, int, np.ndarray, np.ndarray] | None = None
        self._term_counts: tuple[int, dict[str, int]] = (-1, {})
        self._chunk_count: tuple[int, int] | None = None
        self._usage_conn: sqlite3.Connection | None = None  # opened on first use, see record_usage
        self._usage_lock = threading.Lock()
        self._feedback: FeedbackStore | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._ann.close()
        with self._usage_lock:
            if self._usage_conn is not None:
                self._usage_conn.close()
                self._usage_conn = None
        if self._feedback is not None:
            self._feedback.close()
            self._feedback = None
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the shared connection, its errors as PrismErrors."""
        with prism_errors(self.path), transaction(self._conn) as conn:
            yield conn

    def _files(self) -> list[Path]:
        """Every file this store keeps, main database first."""
        feedback = self.path.with_name(FEEDBACK_FILE)
        files = [self.path, feedback]
        files += [Path(f"{p}{suffix}") for p in (self.path, feedback) for suffix in ("-wal", "-shm")]
        files += sorted(self.path.parent.glob("vectors-*")) + sorted(self.path.parent.glob("ann-*"))
        return files

    def backup(self, dest: Path) -> None:
        """Consistent copies of index.db and feedback.db in `dest`, taken while others write."""
        dest.mkdir(parents=True, exist_ok=True)
        for source, name in ((self._conn, self.path.name), (self._feedback_store().conn, FEEDBACK_FILE)):
            target = sqlite3.connect(dest / name)
            try:
                with prism_errors(self.path):
                    source.backup(target)
            finally:
                target.close()

    def restore(self, source: Path) -> None:
        """Replace this index's data with a backup; the generation moves past both."""
        before = self.generation()
        with self._lock:
            for conn, name in ((self._conn, self.path.name), (self._feedback_store().conn, FEEDBACK_FILE)):
                if not (source / name).is_file():
                    raise InputError(f"{source} holds no {name} to restore.",
                                     hint="Pass a folder written by a PRISM backup.", value=source)
                copy = sqlite3.connect(f"file:{source / name}?mode=ro", uri=True)
                try:
                    with prism_errors(source / name):
                        copy.backup(conn)
                finally:
                    copy.close()
            for path in [*self.path.parent.glob("vectors-*"), *self.path.parent.glob("ann-*")]:
                path.unlink(missing_ok=True)
            self._vectors, self._term_counts, self._chunk_count = None, (-1, {}), None
            with self._transaction() as conn:  # the restored data's approximate index is rebuilt, not trusted
                conn.execute("DELETE FROM meta WHERE key = 'ann_build'")
            later = max(before, self.generation()) + 1
            self.set_meta({"generation": str(later)})

    def optimize(self) -> dict[str, object]:
        """Weekly upkeep: merge the full-text index's segments, refresh the query planner's
        statistics, reclaim free pages (VACUUM) and delete vector snapshots no search can use
        (another model's, or an older generation's). Readers keep reading meanwhile."""
        page_bytes = int(self._conn.execute("PRAGMA page_size").fetchone()[0])

        def size() -> int:
            return page_bytes * int(self._conn.execute("PRAGMA page_count").fetchone()[0])

        with self._lock:
            before = size()
            with self._transaction() as conn:
                conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
            with prism_errors(self.path):
                self._conn.execute("ANALYZE")
                self._conn.execute("VACUUM")
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            after = size()
        model, gen = self.get_meta("embed_model"), self.generation()
        expired = 0
        for meta_path in sorted(self.path.parent.glob("vectors-*.json")):
            keep = model is not None and meta_path == snapshot_paths(self.path, model)[2]
            try:
                keep = keep and json.loads(meta_path.read_text(encoding="utf-8")).get("generation") == gen
            except (OSError, ValueError):
                keep = False
            if not keep:
                stem = meta_path.name.removesuffix(".json")
                for path in (meta_path, meta_path.with_name(f"{stem}.npy"), meta_path.with_name(f"{stem}.ids.npy")):
                    path.unlink(missing_ok=True)
                expired += 1
        return {"bytes_before": before, "bytes_after": after, "snapshots_expired": expired}

    def forget(self) -> None:
        """Close the store and delete its files (index, feedback, vector snapshots)."""
        self.close()
        for path in self._files():
            path.unlink(missing_ok=True)

    # -- meta ------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: dict[str, str]) -> None:
        with self._lock, self._transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())

    def generation(self) -> int:
        """A counter bumped by every write: caches keyed on it are never stale."""
        return int(self.get_meta("generation") or 0)

    def _bump(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # -- files -----------------------------------------------------------------------------

    def file_states(self) -> dict[str, FileState]:
        rows = self._conn.execute("SELECT path, sha256, size, mtime, indexed_at FROM files")
        return {r[0]: FileState(r[0], r[1], int(r[2]), float(r[3]), float(r[4])) for r in rows}

    def file_state(self, path: str) -> FileState | None:
        row = self._conn.execute(
            "SELECT path, sha256, size, mtime, indexed_at FROM files WHERE path=?", (path,)).fetchone()
        return None if row is None else FileState(row[0], row[1], int(row[2]), float(row[3]), float(row[4]))

    def write_files(self, files: Sequence[IndexedFile]) -> None:
        """Replace the chunks of each file in one transaction (the indexer's batch)."""
        now = time.time()
        with self._lock, self._transaction() as conn:
            chunks: list[tuple[object, ...]] = []
            refs: list[tuple[int, str, str]] = []
            fts: list[tuple[object, ...]] = []
            self._delete_paths(conn, [item.record.path for item in files])
            # The ids SQLite would give one insert at a time (the largest left, plus one),
            # named up front so that each table takes its rows in one executemany.
            next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0]) + 1
            for item in files:
                rec = item.record
                cur = conn.execute(
                    "INSERT INTO files(path, sha256, size, mtime, language, indexed_at, status, warnings)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.path, rec.sha256, rec.size, rec.mtime, rec.language, now,
                     "partial" if rec.warnings else "indexed", "\n".join(rec.warnings)),
                )
                file_id = cur.lastrowid
                for chunk, text_hash, terms in zip(item.chunks, item.text_hashes, item.chunk_terms(), strict=True):
                    chunk_id = next_id
                    next_id += 1
                    chunks.append(_chunk_row(chunk_id, file_id, chunk, text_hash))
                    refs.extend(_ref_rows(chunk_id, chunk))
                    fts.append((chunk_id, *terms))
            conn.executemany(
                "INSERT INTO chunks(id, file_id, path, language, kind, name, qualified_name, signature,"
                " docstring, start_line, end_line, content, content_hash, tokens, parent, defines,"
                " imports, calls, text_hash, level_tokens, level_texts)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                chunks)
            conn.executemany("INSERT INTO refs(chunk_id, kind, name) VALUES (?, ?, ?)", refs)
            conn.executemany("INSERT INTO chunks_fts(rowid, path, symbol, doc, body) VALUES (?, ?, ?, ?, ?)", fts)
            self._bump(conn)

    def touch_files(self, states: Sequence[tuple[str, int, float]]) -> None:
        """Record new size/mtime for files whose content hash did not change (no re-chunking)."""
        if not states:
            return
        with self._lock, self._transaction() as conn:
            conn.executemany("UPDATE files SET size=?, mtime=? WHERE path=?",
                             [(size, mtime, path) for path, size, mtime in states])

    def delete_files(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        with self._lock, self._transaction() as conn:
            self._delete_paths(conn, paths)
            self._bump(conn)

    def _delete_paths(self, conn: sqlite3.Connection, paths: Sequence[str]) -> None:
        # A few statements per 500 paths, not three per path (a cold index deletes nothing).
        for start in range(0, len(paths), 500):
            part = list(paths[start:start + 500])
            marks = ",".join("?" * len(part))
            ids = [(r[0],) for r in conn.execute(
                f"SELECT c.id FROM chunks c JOIN files f ON f.id=c.file_id WHERE f.path IN ({marks})", part)]
            conn.executemany("DELETE FROM chunks_fts WHERE rowid=?", ids)
            conn.execute(f"DELETE FROM files WHERE path IN ({marks})", part)  # cascades chunks, refs

    # -- chunks ----------------------------------------------------------------------------

    def get_chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        """Chunks by id, in the order asked (unknown ids are left out)."""
        return self._rows_by_id(CHUNK_COLUMNS, row_to_chunk, ids)

    def get_heads(self, ids: Sequence[int]) -> list[ChunkHead]:
        return self._rows_by_id(HEAD_COLUMNS, row_to_head, ids)

    def _rows_by_id(self, columns: str, build: Callable[[Sequence[Any]], _Row], ids: Sequence[int]
                    ) -> list[_Row]:
        """Records built from `columns` of the chunks with these ids, in the order asked."""
        found: dict[int, _Row] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start:start + 500])
            marks = ",".join("?" * len(part))
            rows = self._conn.execute(
                f"SELECT {columns} FROM chunks c JOIN files f ON f.id=c.file_id"
                f" WHERE c.id IN ({marks})", part)
            for row in rows:
                found[int(row[0])] = build(row)
        return [found[i] for i in ids if i in found]

    def chunks_in_file(self, path: str) -> list[StoredChunk]:
        return [row_to_chunk(r) for r in self._rows_in_file(CHUNK_COLUMNS, path)]

    def heads_in_file(self, path: str) -> list[ChunkHead]:
        return [row_to_head(r) for r in self._rows_in_file(HEAD_COLUMNS, path)]

    def _rows_in_file(self, columns: str, path: str) -> sqlite3.Cursor:
        return self._conn.execute(
            f"SELECT {columns} FROM chunks c JOIN files f ON f.id=c.file_id"
            " WHERE f.path=? ORDER BY c.start_line, c.end_line", (path,))

    def export_files(self) -> Iterator[IndexedFile]:
        files = self._conn.execute("SELECT id, path, sha256, size, mtime, language, warnings FROM files"
                                   " ORDER BY id").fetchall()
        for fid, path, sha, size, mtime, language, warnings in files:
            rows = self._conn.execute(f"SELECT {CHUNK_COLUMNS}, c.text_hash FROM chunks c JOIN files f"
                                      " ON f.id = c.file_id WHERE c.file_id = ? ORDER BY c.id", (fid,)).fetchall()
            record = FileRecord(path, sha, int(size), float(mtime), language,
                                tuple(warnings.split("\n")) if warnings else ())
            yield IndexedFile(record, tuple(row_to_chunk(r[:-1]).chunk for r in rows),
                              tuple(str(r[-1]) for r in rows))

    def export_embeddings(self, model: str, batch: int = 1000) -> Iterator[list[tuple[str, np.ndarray]]]:
        import numpy as np

        last = ""
        while True:
            rows = self._conn.execute("SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash > ?"
                                      " ORDER BY text_hash LIMIT ?", (model, last, batch)).fetchall()
            if not rows:
                return
            yield [(str(h), np.frombuffer(v, dtype=np.float32)) for h, v in rows]
            last = str(rows[-1][0])

    def iter_chunks(self, batch: int = 2000) -> Iterator[StoredChunk]:
        """Every chunk, in id order (for rebuilds and exports)."""
        last = 0
        while True:
            rows = self._conn.execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN files f ON f.id=c.file_id"
                " WHERE c.id > ? ORDER BY c.id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield row_to_chunk(row)
            last = int(rows[-1][0])

    def chunk_ids_by_hash_prefix(self, prefix: str, limit: int = 5) -> list[int]:
        """Ids of chunks whose content hash starts with `prefix` (a `prism show` handle)."""
        clean = "".join(ch for ch in prefix.lower() if ch in "0123456789abcdef")
        if len(clean) < 6:
            return []
        upper = clean[:-1] + chr(ord(clean[-1]) + 1)
        rows = self._conn.execute("SELECT id FROM chunks WHERE content_hash >= ? AND content_hash < ?"
                                  " ORDER BY id LIMIT ?", (clean, upper, limit))
        return [int(r[0]) for r in rows]

    def file_tokens(self, paths: Sequence[str]) -> dict[str, int]:
        """Tokens of each file, as the sum of its indexed chunks' token counts."""
        return _file_tokens(self._conn, paths)

    def filter_ids(self, ids: Iterable[int], filters: SearchFilters) -> set[int]:
        """Those of `ids` whose chunks pass the filters."""
        where, params = self._filter_sql(filters)
        wanted = sorted(set(ids))
        if not where:
            return set(wanted)
        out: set[int] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            rows = self._conn.execute(
                f"SELECT c.id FROM chunks c JOIN files f ON f.id=c.file_id"
                f" WHERE c.id IN ({','.join('?' * len(part))}) {where}", (*part, *params))
            out.update(int(r[0]) for r in rows)
        return out

    # -- lexical search --------------------------------------------------------------------

    def lexical(self, terms: Sequence[WeightedTerm], limit: int, filters: SearchFilters | None = None,
                require: Sequence[str] = ()) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) best first; see `fts_match` for how `require` gates the rows."""
        if not terms:
            return []
        match, scale = fts_match(terms, require)
        return [(cid, score / scale) for cid, score in self.search_fts(match, limit, filters)]

    def rank_files(self, terms: Sequence[str], limit: int) -> dict[str, int]:
        """Files by their best chunk's BM25, best first, with their tokens (the whole-file baseline).

        Runs on a read-only connection of its own: SQLite releases the GIL while the query runs,
        so a caller on another thread overlaps it with the search instead of waiting for it.
        """
        if not terms:
            return {}
        match, _ = fts_match([(t, 1) for t in terms])
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30.0)
        try:
            with prism_errors(self.path):
                # Rank inside the full-text table first, join only the top rows: the same order
                # as joining every match and then sorting, at ~60-75 % of the cost.
                rows = conn.execute(
                    "SELECT c.path FROM (SELECT rowid AS id, bm25(chunks_fts, ?, ?, ?, ?) AS score"
                    " FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?) AS t"
                    " JOIN chunks c ON c.id = t.id JOIN files f ON f.id = c.file_id ORDER BY t.score",
                    (*FTS_WEIGHTS, match, limit)).fetchall()
                ranked = list(dict.fromkeys(str(r[0]) for r in rows))
                sizes = _file_tokens(conn, ranked)
        finally:
            conn.close()
        return {path: sizes.get(path, 0) for path in ranked}

    def search_fts(self, match: str, limit: int, filters: SearchFilters | None = None,
                   weights: tuple[float, float, float, float] = FTS_WEIGHTS) -> list[tuple[int, float]]:
        """Chunk ids and BM25 scores (higher is better) for an FTS5 MATCH expression."""
        where, params = self._filter_sql(filters)
        if where:
            sql = (
                "SELECT c.id, -bm25(chunks_fts, ?, ?, ?, ?) AS score FROM chunks_fts"
                " JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id"
                f" WHERE chunks_fts MATCH ? {where} ORDER BY bm25(chunks_fts, ?, ?, ?, ?) LIMIT ?"
            )
        else:  # no join per match: ~40 % faster when common terms match half the index
            sql = ("SELECT rowid, -bm25(chunks_fts, ?, ?, ?, ?) FROM chunks_fts WHERE chunks_fts MATCH ?"
                   " ORDER BY bm25(chunks_fts, ?, ?, ?, ?) LIMIT ?")
        try:
            rows = self._conn.execute(sql, (*weights, match, *params, *weights, limit)).fetchall()
        except sqlite3.OperationalError as exc:
            raise InputError(f"Invalid search expression: {exc}.", value=match) from exc
        return [(int(r[0]), float(r[1])) for r in rows]

    def _filter_sql(self, filters: SearchFilters | None) -> tuple[str, list[object]]:
        if filters is None:
            return "", []
        clauses: list[str] = []
        params: list[object] = []
        if filters.languages:
            clauses.append(f"c.language IN ({','.join('?' * len(filters.languages))})")
            params.extend(filters.languages)
        if filters.kinds:
            clauses.append(f"c.kind IN ({','.join('?' * len(filters.kinds))})")
            params.extend(filters.kinds)
        if filters.since is not None:
            clauses.append("(f.mtime >= ? OR f.indexed_at >= ?)")
            params.extend([filters.since, filters.since])
        if filters.scope != "all":
            self._conn.create_function("prism_place", 2, place_of, deterministic=True)
            clauses.append("prism_place(c.path, c.kind) = ?")
            params.append(filters.scope)
        if filters.path:
            if any(ch in filters.path for ch in "*?["):
                import pathspec  # only a glob filter needs it

                spec = pathspec.GitIgnoreSpec.from_lines([filters.path])
                self._conn.create_function("prism_path_match", 1,
                                           lambda p: spec.match_file(p), deterministic=True)
                clauses.append("prism_path_match(c.path)")
            else:
                prefix = filters.path.strip("/")
                clauses.append("(c.path = ? OR c.path LIKE ? ESCAPE '\\')")
                escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                params.extend([prefix, escaped + "/%"])
        return ("AND " + " AND ".join(clauses)) if clauses else "", params

    def chunk_ids_matching(self, filters: SearchFilters) -> set[int]:
        """Ids of all chunks that pass the filters (for masking the dense scan)."""
        where, params = self._filter_sql(filters)
        rows = self._conn.execute(
            f"SELECT c.id FROM chunks c JOIN files f ON f.id=c.file_id WHERE 1=1 {where}", params)
        return {int(r[0]) for r in rows}

    # -- code graph ------------------------------------------------------------------------

    def find_refs(self, names: Iterable[str], kind: str = "defines", *,
                  most: int | None = None) -> list[tuple[int, str]]:
        """(chunk id, name) of chunks that define/import/call any of the names; with `most`,
        only of the names with at most that many such chunks (counted in SQL, never read)."""
        wanted = sorted(set(names))
        out: list[tuple[int, str]] = []
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            marks = ",".join("?" * len(part))
            if most is None:
                rows = self._conn.execute(f"SELECT chunk_id, name FROM refs WHERE kind=? AND name IN ({marks})",
                                          (kind, *part))
            else:
                rows = self._conn.execute(
                    "SELECT chunk_id, name FROM refs WHERE kind=? AND name IN (SELECT name FROM refs"
                    f" WHERE kind=? AND name IN ({marks}) GROUP BY name HAVING count(*) <= ?)",
                    (kind, kind, *part, most))
            out.extend((int(r[0]), str(r[1])) for r in rows)
        return out

    def refs_of(self, chunk_ids: Sequence[int], kind: str) -> list[tuple[int, str]]:
        """(chunk id, name) of what the given chunks define/import/call."""
        out: list[tuple[int, str]] = []
        for start in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[start:start + 500])
            rows = self._conn.execute(
                f"SELECT chunk_id, name FROM refs WHERE kind=? AND chunk_id IN ({','.join('?' * len(part))})",
                (kind, *part))
            out.extend((int(r[0]), str(r[1])) for r in rows)
        return out

    # -- vectors ---------------------------------------------------------------------------

    def pending_embeddings(self, model: str, limit: int) -> list[tuple[str, int]]:
        """(text_hash, one chunk id with that text) for chunks whose text has no vector yet."""
        # Rowid order with an early LIMIT: stops at the first `limit` misses instead of
        # grouping the whole table (this runs on every watch update).
        rows = self._conn.execute(
            "SELECT c.text_hash, c.id FROM chunks c WHERE c.text_hash != '' AND NOT EXISTS (SELECT 1"
            " FROM embeddings e WHERE e.model = ? AND e.text_hash = c.text_hash) LIMIT ?", (model, limit))
        first: dict[str, int] = {}
        for text_hash, chunk_id in rows:
            first.setdefault(str(text_hash), int(chunk_id))
        return list(first.items())

    def chunk_text_hashes(self) -> list[tuple[int, str]]:
        rows = self._conn.execute("SELECT id, text_hash FROM chunks WHERE text_hash != '' ORDER BY id")
        return [(int(cid), str(h)) for cid, h in rows]

    def count_pending_embeddings(self, model: str) -> int:
        row = self._conn.execute(
            "SELECT COUNT(DISTINCT NULLIF(c.text_hash, ?)), COALESCE(SUM(c.text_hash = ?), 0) FROM chunks c"
            " LEFT JOIN embeddings e ON e.model = ? AND e.text_hash = c.text_hash"
            " WHERE e.text_hash IS NULL AND c.text_hash != ''",
            (UNHASHED, UNHASHED, model)
        ).fetchone()
        return int(row[0]) + int(row[1])

    def unhashed_chunks(self, limit: int) -> list[int]:
        rows = self._conn.execute("SELECT id FROM chunks WHERE text_hash = ? ORDER BY id LIMIT ?", (UNHASHED, limit))
        return [int(r[0]) for r in rows]

    def set_text_hashes(self, items: Sequence[tuple[int, str]]) -> None:
        with self._lock, self._transaction() as conn:
            conn.executemany("UPDATE chunks SET text_hash = ? WHERE id = ?", [(h, cid) for cid, h in items])
            self._bump(conn)

    def put_embeddings(self, model: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        import numpy as np

        with self._lock, self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings(model, text_hash, vector) VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items])
            self._bump(conn)

    def drop_embeddings(self, keep_model: str | None = None) -> None:
        """Remove vectors of every model but keep_model (the index never mixes two models)."""
        with self._lock, self._transaction() as conn:
            conn.execute("DELETE FROM embeddings WHERE model IS NOT ?", (keep_model,))
            self._bump(conn)

    def prune_embeddings(self, model: str) -> int:
        """Delete cached vectors no chunk uses any more; returns how many."""
        with self._lock, self._transaction() as conn:
            cur = conn.execute(
                "DELETE FROM embeddings WHERE model = ? AND text_hash NOT IN"
                " (SELECT text_hash FROM chunks) AND NOT EXISTS (SELECT 1 FROM chunks WHERE text_hash = ?)",
                (model, UNHASHED))
            return int(cur.rowcount)

    def nearest(self, model: str, queries: np.ndarray, limit: int,
                filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Through the approximate index when the store has one (large stores), else exact: every
        vector of the model against the queries (brute force, numpy)."""
        where, _ = self._filter_sql(filters)
        allowed = self.chunk_ids_matching(filters) if where and filters is not None else None
        found = self._ann.nearest(model, queries, limit, allowed, self.generation())
        if found is not None:
            return found
        ids, matrix = self.vector_matrix(model, int(queries.shape[1]))
        if len(ids) == 0:
            return []
        return best_similarities(ids, matrix, queries, limit, allowed)

    def nearest_many(self, model: str, searches: Sequence[tuple[np.ndarray, int, SearchFilters | None]]
                     ) -> list[list[tuple[int, float]]]:
        """`nearest` of several searches (concurrent requests, retrieve/dense_batch.py); the exact
        scan reads the matrix once for all of them."""
        found: dict[int, list[tuple[int, float]]] = {}
        exact: list[tuple[int, np.ndarray, int, set[int] | None]] = []
        for i, (queries, limit, filters) in enumerate(searches):
            where, _ = self._filter_sql(filters)
            allowed = self.chunk_ids_matching(filters) if where and filters is not None else None
            approximate = self._ann.nearest(model, queries, limit, allowed, self.generation())
            if approximate is not None:
                found[i] = approximate
            else:
                exact.append((i, queries, limit, allowed))
        if exact:
            ids, matrix = self.vector_matrix(model, int(exact[0][1].shape[1]))
            scanned = best_similarities_many(ids, matrix, [(q, limit, allowed) for _, q, limit, allowed in exact])
            found.update((i, hits) for (i, _, _, _), hits in zip(exact, scanned, strict=True))
        return [found[i] for i in range(len(searches))]

    @property
    def ann(self) -> SqliteAnn:
        """The approximate vector index (used once the store has grown past its threshold)."""
        return self._ann

    def maintain_vectors(self, model: str, *, wait: bool = False) -> None:
        """After an index run: build or refresh the approximate index of a large store, in the
        background unless `wait` (searches and writes meanwhile go on through the old one)."""
        self._ann.maintain(model, self.count_chunks(), wait=wait)

    def vector_matrix(self, model: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, float32 matrix) of every embedded chunk, cached until the next write.

        Besides the in-process cache, the matrix is snapshotted next to the index as .npy files
        tagged with the index generation, so a fresh process (a CLI search) maps it in
        milliseconds instead of decoding every vector row from SQLite.
        """
        import numpy as np

        gen = self.generation()
        cached = self._vectors
        if cached is not None and cached[0] == model and cached[1] == gen:
            return cached[2], cached[3]
        loaded = load_snapshot(self.path, model, gen, dim)
        if loaded is None:
            rows = self._conn.execute(
                "SELECT c.id, e.vector FROM chunks c JOIN embeddings e"
                " ON e.model = ? AND e.text_hash = c.text_hash ORDER BY c.id", (model,)).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
            save_snapshot(self.path, model, gen, ids, matrix)
            loaded = ids, matrix
        self._vectors = (model, gen, *loaded)
        return loaded

    # -- stats -----------------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        conn = self._conn
        files = int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
        chunks, tokens = conn.execute("SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM chunks").fetchone()
        languages = {str(lang or "text"): int(n) for lang, n in conn.execute(
            "SELECT language, COUNT(*) FROM files GROUP BY language ORDER BY COUNT(*) DESC")}
        last = conn.execute("SELECT MAX(indexed_at) FROM files").fetchone()[0]
        partial = int(conn.execute("SELECT COUNT(*) FROM files WHERE status='partial'").fetchone()[0])
        return {
            "files": files, "chunks": int(chunks), "tokens": int(tokens), "languages": languages,
            "last_indexed": float(last) if last is not None else None, "partial_files": partial,
        }

    # -- retrieval statistics (IDF for prism.retrieve.lexical) ------------------------------

    def count_chunks(self) -> int:
        """How many chunks the index holds (cached until the next write)."""
        gen = self.generation()
        cached = self._chunk_count
        if cached is not None and cached[0] == gen:
            return cached[1]
        count = int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        self._chunk_count = (gen, count)
        return count

    def _vocab_rows(self, terms: Sequence[str], attempts: int = 3) -> list[tuple[str, int]]:
        """(term, document count) rows of fts5vocab for `terms`; a scan aborted because a commit
        changed the full-text index under it (SQLITE_ABORT) is run again on the new index."""
        sql = f"SELECT term, doc FROM temp.chunks_vocab WHERE term IN ({','.join('?' * len(terms))})"
        for attempt in range(attempts):
            try:
                return [(str(r[0]), int(r[1])) for r in self._conn.execute(sql, list(terms)).fetchall()]
            except sqlite3.OperationalError as exc:
                if not is_aborted(exc) or attempt == attempts - 1:
                    raise
        return []

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each full-text term (for IDF); absent terms are left out.

        fts5vocab counts a term by walking its whole posting list (~1 ms for a word in 30k
        chunks), and questions share their words, so counts are kept per index generation.
        """
        gen = self.generation()
        with self._lock:
            if self._term_counts[0] != gen or len(self._term_counts[1]) > MAX_CACHED_TERMS:
                self._term_counts = (gen, {})
            known = self._term_counts[1]
            self._conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab"
                " USING fts5vocab(main, chunks_fts, row)")
        wanted = [t for t in dict.fromkeys(terms) if t not in known]
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 200):
            part = wanted[start:start + 200]
            found.update(self._vocab_rows(part))
        known.update({t: found.get(t, 0) for t in wanted})  # 0: not in the index (also worth keeping)
        return {t: known[t] for t in terms if known.get(t)}

    # -- usage -----------------------------------------------------------------------------

    def record_usage(self, event: UsageEvent, at: float | None = None) -> bool:
        """Record in a write transaction of its own; False (and a log line) if the index is busy.

        Usage goes over a connection that only ever writes, one thread at a time: the shared
        connection is read by every request thread, and a write on it while another thread is
        still reading fails at once with "database is locked" (SQLite cannot upgrade a read
        snapshot that another process has moved past), which a busy server met within seconds.
        A connection that only writes waits its turn instead.
        """
        with self._usage_lock:
            try:
                if self._usage_conn is None:
                    self._usage_conn = connect_wal(self.path)
                with prism_errors(self.path), transaction(self._usage_conn) as conn:
                    conn.execute(
                        "INSERT INTO usage(at, kind, intent, budget, tokens_served, tokens_saved,"
                        " chunks, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (time.time() if at is None else at, event.kind, event.intent, event.budget,
                         event.tokens_served, event.tokens_saved, event.chunks, event.seconds))
            except (sqlite3.Error, PrismError) as exc:
                log.warning("usage not recorded: %s", exc)
                return False
        return True

    def usage_summary(self, since: float | None = None) -> dict[str, object]:
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

    # -- feedback (feedback.db beside the index: marks survive a rebuilt index) --------------

    def _feedback_store(self) -> FeedbackStore:
        with self._lock:
            if self._feedback is None:
                self._feedback = FeedbackStore(self.path.with_name(FEEDBACK_FILE))
            return self._feedback

    def record_feedback(self, path: str, symbol: str, helpful: bool, query: str = "") -> None:
        self._feedback_store().record(path, symbol, helpful, query)

    def feedback_marks(self, paths: Iterable[str]) -> dict[tuple[str, str], int]:
        return self._feedback_store().net_marks(paths)

    def export_history(self) -> History:
        with self._lock:
            rows = self._conn.execute(f"SELECT {USAGE_COLUMNS} FROM usage ORDER BY at, id").fetchall()
        usage = [usage_row(row) for row in rows]
        return History(usage, self._feedback_store().export())

    def import_history(self, history: History) -> None:
        with self._usage_lock:
            if self._usage_conn is None:
                self._usage_conn = connect_wal(self.path)
            with prism_errors(self.path), transaction(self._usage_conn) as conn:
                conn.executemany("INSERT INTO usage(at, kind, intent, budget, tokens_served, tokens_saved, chunks,"
                                 " seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 [(at, e.kind, e.intent, e.budget, e.tokens_served, e.tokens_saved, e.chunks,
                                   e.seconds) for at, e in history.usage])
        self._feedback_store().add(history.feedback)

def _chunk_row(chunk_id: int, file_id: int | None, chunk: Chunk, text_hash: str) -> tuple[object, ...]:
    return (chunk_id, file_id, chunk.path, chunk.language, chunk.kind, chunk.name, chunk.qualified_name,
            chunk.signature, chunk.docstring, chunk.start_line, chunk.end_line, chunk.content,
            chunk.content_hash, chunk.tokens, chunk.parent, json_list(chunk.defines),
            json_list(chunk.imports), json_list(chunk.calls), text_hash,
            level_tokens_text(chunk.level_tokens), chunk.level_tokens.texts if chunk.level_tokens else None)


def json_list(values: tuple[str, ...]) -> str:
    """`json.dumps(list(values))`, without the encoder for an empty one (most chunks' imports)."""
    return json.dumps(list(values)) if values else "[]"


def _ref_rows(chunk_id: int, chunk: Chunk) -> list[tuple[int, str, str]]:
    refs = [(chunk_id, "defines", n) for n in {chunk.qualified_name, chunk.name, *chunk.defines} if n]
    refs += [(chunk_id, "imports", n) for n in set(chunk.imports)]
    refs += [(chunk_id, "calls", n) for n in set(chunk.calls)]
    return refs
