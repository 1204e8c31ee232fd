"""SqliteStore: the embedded index — files, chunks, full-text, code graph and vectors in one SQLite file.

All SQL of the embedded backend lives here. WAL mode lets searches read while an indexer
writes; every write method is one transaction, so a killed process leaves either the old
or the new state of a file, never half of it.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pathspec

from prism.errors import IndexCorruptError, InputError, NotWritableError
from prism.index.terms import terms_text
from prism.models import Chunk, SearchFilters, StoredChunk

SCHEMA_VERSION = 2  # the highest schema/NNN_*.sql migration
# bm25() column weights for (path, symbol, doc, body): names and paths say more per word.
FTS_WEIGHTS = (3.0, 6.0, 2.0, 1.0)

MAX_CACHED_TERMS = 200_000  # document counts kept per generation (a few MB)
_CHUNK_COLUMNS = (
    "c.id, c.path, c.language, c.kind, c.name, c.qualified_name, c.signature, c.docstring, "
    "c.start_line, c.end_line, c.content, c.content_hash, c.tokens, c.parent, c.defines, "
    "c.imports, c.calls, f.sha256, f.indexed_at"
)


@dataclass(frozen=True)
class FileState:
    """What the index knows about one file, to decide whether it must be re-read."""

    path: str
    sha256: str
    size: int
    mtime: float
    indexed_at: float


@dataclass(frozen=True)
class FileRecord:
    path: str
    sha256: str
    size: int
    mtime: float
    language: str | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndexedFile:
    """One file's new state: its record, its chunks and each chunk's embedding-text hash."""

    record: FileRecord
    chunks: tuple[Chunk, ...]
    text_hashes: tuple[str, ...]


def connect_wal(path: Path, timeout_s: float = 30.0) -> sqlite3.Connection:
    """An autocommit connection to a WAL database, safe when several processes open it at once.

    Switching a new file to WAL needs a lock that SQLite does not wait for, so a burst of first
    opens (concurrent requests, a CLI beside an MCP server) retries instead of failing.
    """
    conn = sqlite3.connect(path, timeout=timeout_s, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.02)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("prism.index") / "schema"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _statements(script: str) -> Iterator[str]:
    """Split a SQL script into complete statements (comments and blank lines dropped)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


def _row_to_chunk(row: tuple[Any, ...]) -> StoredChunk:
    (cid, path, language, kind, name, qname, sig, doc, start, end, content, chash, tokens,
     parent, defines, imports, calls, fsha, indexed_at) = tuple(row)
    chunk = Chunk(
        path=path, language=language, kind=kind, name=name, qualified_name=qname, signature=sig,
        docstring=doc, start_line=start, end_line=end, content=content, content_hash=chash,
        tokens=tokens, defines=tuple(json.loads(defines)), imports=tuple(json.loads(imports)),
        calls=tuple(json.loads(calls)), parent=parent,
    )
    return StoredChunk(id=cid, chunk=chunk, file_sha256=fsha, indexed_at=indexed_at)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing index in a folder this process cannot write.

    `mode=ro` still needs the WAL's shared-memory file; when SQLite cannot create it (a read-only
    PRISM_HOME), `immutable=1` reads the database file as it is, without locks.
    """
    uri = path.resolve().as_uri()
    for flags in ("mode=ro", "immutable=1"):
        conn = sqlite3.connect(f"{uri}?{flags}", uri=True, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            continue
        return conn
    raise sqlite3.OperationalError("unable to open database file")


def _writable(path: Path) -> bool:
    return os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)


def connect_side_file(path: Path) -> sqlite3.Connection:
    """connect_wal for a small side database (feedback), or, in a folder this process cannot write,
    a read-only connection to it (an empty in-memory one when it does not exist yet)."""
    if path.exists() and not _writable(path):
        return connect_read_only(path)
    if not path.exists() and path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        return sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    return connect_wal(path)


class SqliteStore:
    """One project's index in one SQLite file (WAL); read-only when its folder is not writable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_only = path.exists() and not _writable(path)
        if not self.read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = connect_read_only(path) if self.read_only else connect_wal(path)
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            readable = os.access(path, os.R_OK) and os.access(path.parent, os.X_OK)
            raise IndexCorruptError(
                f"The index at {path} cannot be read ({exc}).", value=path,
                hint="Run `prism forget` and `prism index` to rebuild it." if readable else
                     "This user may not read it: check the permissions of the file and its folder.",
            ) from exc
        self._lock = threading.RLock()
        self._vectors: tuple[str, int, np.ndarray, np.ndarray] | None = None
        self._term_counts: tuple[int, dict[str, int]] = (-1, {})

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def _migrate(self) -> None:
        """Apply pending schema migrations, once, even when several processes open a new index."""
        migrations = _migrations()
        latest = migrations[-1][0]
        current = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if current > latest:
            raise IndexCorruptError(
                f"The index at {self.path} was written by a newer PRISM (schema {current}).",
                hint="Upgrade PRISM, or run `prism forget` and re-index.", value=self.path,
            )
        if current == latest:
            return
        if self.read_only:
            raise NotWritableError(
                f"The index at {self.path} needs an upgrade (schema {current} → {latest}), but its folder "
                "is not writable.", hint="Run `prism index` once with write access to PRISM_HOME.", value=self.path)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
            for version, sql in migrations:
                if version > current:
                    # Statement by statement: executescript() would commit our transaction.
                    for statement in _statements(sql):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version={version}")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

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
            for item in files:
                rec = item.record
                self._delete_paths(conn, [rec.path])
                cur = conn.execute(
                    "INSERT INTO files(path, sha256, size, mtime, language, indexed_at, status, warnings)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.path, rec.sha256, rec.size, rec.mtime, rec.language, now,
                     "partial" if rec.warnings else "indexed", "\n".join(rec.warnings)),
                )
                file_id = cur.lastrowid
                for chunk, text_hash in zip(item.chunks, item.text_hashes, strict=True):
                    self._insert_chunk(conn, file_id, chunk, text_hash)
            self._bump(conn)

    def _insert_chunk(self, conn: sqlite3.Connection, file_id: int | None, chunk: Chunk,
                      text_hash: str) -> None:
        cur = conn.execute(
            "INSERT INTO chunks(file_id, path, language, kind, name, qualified_name, signature,"
            " docstring, start_line, end_line, content, content_hash, tokens, parent, defines,"
            " imports, calls, text_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (file_id, chunk.path, chunk.language, chunk.kind, chunk.name, chunk.qualified_name,
             chunk.signature, chunk.docstring, chunk.start_line, chunk.end_line, chunk.content,
             chunk.content_hash, chunk.tokens, chunk.parent, json.dumps(list(chunk.defines)),
             json.dumps(list(chunk.imports)), json.dumps(list(chunk.calls)), text_hash),
        )
        chunk_id = cur.lastrowid
        refs = [(chunk_id, "defines", n) for n in {chunk.qualified_name, chunk.name, *chunk.defines} if n]
        refs += [(chunk_id, "imports", n) for n in set(chunk.imports)]
        refs += [(chunk_id, "calls", n) for n in set(chunk.calls)]
        conn.executemany("INSERT INTO refs(chunk_id, kind, name) VALUES (?, ?, ?)", refs)
        conn.execute(
            "INSERT INTO chunks_fts(rowid, path, symbol, doc, body) VALUES (?, ?, ?, ?, ?)",
            (chunk_id, terms_text(chunk.path),
             terms_text(f"{chunk.qualified_name} {chunk.signature}"),
             terms_text(chunk.docstring), terms_text(chunk.content)),
        )

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
        for path in paths:
            ids = [r[0] for r in conn.execute(
                "SELECT c.id FROM chunks c JOIN files f ON f.id=c.file_id WHERE f.path=?", (path,))]
            conn.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(i,) for i in ids])
            conn.execute("DELETE FROM files WHERE path=?", (path,))  # cascades chunks, refs

    # -- chunks ----------------------------------------------------------------------------

    def get_chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        """Chunks by id, in the order asked (unknown ids are left out)."""
        if not ids:
            return []
        found: dict[int, StoredChunk] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start:start + 500])
            marks = ",".join("?" * len(part))
            rows = self._conn.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN files f ON f.id=c.file_id"
                f" WHERE c.id IN ({marks})", part)
            for row in rows:
                sc = _row_to_chunk(row)
                found[sc.id] = sc
        return [found[i] for i in ids if i in found]

    def chunks_in_file(self, path: str) -> list[StoredChunk]:
        rows = self._conn.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN files f ON f.id=c.file_id"
            " WHERE f.path=? ORDER BY c.start_line, c.end_line", (path,))
        return [_row_to_chunk(r) for r in rows]

    def iter_chunks(self, batch: int = 2000) -> Iterator[StoredChunk]:
        """Every chunk, in id order (for rebuilds and exports)."""
        last = 0
        while True:
            rows = self._conn.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN files f ON f.id=c.file_id"
                " WHERE c.id > ? ORDER BY c.id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield _row_to_chunk(row)
            last = int(rows[-1][0])

    # -- lexical search --------------------------------------------------------------------

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
        if filters.path:
            if any(ch in filters.path for ch in "*?["):
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
        """Ids of all chunks that pass the filters (for post-filtering dense results)."""
        where, params = self._filter_sql(filters)
        rows = self._conn.execute(
            f"SELECT c.id FROM chunks c JOIN files f ON f.id=c.file_id WHERE 1=1 {where}", params)
        return {int(r[0]) for r in rows}

    # -- code graph ------------------------------------------------------------------------

    def find_refs(self, names: Iterable[str], kind: str = "defines") -> list[tuple[int, str]]:
        """(chunk id, name) of chunks that define/import/call any of the names."""
        wanted = sorted(set(names))
        out: list[tuple[int, str]] = []
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            rows = self._conn.execute(
                f"SELECT chunk_id, name FROM refs WHERE kind=? AND name IN ({','.join('?' * len(part))})",
                (kind, *part))
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
            "SELECT c.text_hash, c.id FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM embeddings e"
            " WHERE e.model = ? AND e.text_hash = c.text_hash) LIMIT ?", (model, limit))
        first: dict[str, int] = {}
        for text_hash, chunk_id in rows:
            first.setdefault(str(text_hash), int(chunk_id))
        return list(first.items())

    def count_pending_embeddings(self, model: str) -> int:
        row = self._conn.execute(
            "SELECT COUNT(DISTINCT c.text_hash) FROM chunks c LEFT JOIN embeddings e"
            " ON e.model = ? AND e.text_hash = c.text_hash WHERE e.text_hash IS NULL", (model,)
        ).fetchone()
        return int(row[0])

    def put_embeddings(self, model: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
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
                " (SELECT text_hash FROM chunks)", (model,))
            return int(cur.rowcount)

    def vector_matrix(self, model: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, float32 matrix) of every embedded chunk, cached until the next write.

        Besides the in-process cache, the matrix is snapshotted next to the index as .npy files
        tagged with the index generation, so a fresh process (a CLI search) maps it in
        milliseconds instead of decoding every vector row from SQLite.
        """
        gen = self.generation()
        cached = self._vectors
        if cached is not None and cached[0] == model and cached[1] == gen:
            return cached[2], cached[3]
        loaded = self._load_vector_snapshot(model, gen, dim)
        if loaded is None:
            rows = self._conn.execute(
                "SELECT c.id, e.vector FROM chunks c JOIN embeddings e"
                " ON e.model = ? AND e.text_hash = c.text_hash ORDER BY c.id", (model,)).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
            self._save_vector_snapshot(model, gen, ids, matrix)
            loaded = ids, matrix
        self._vectors = (model, gen, *loaded)
        return loaded

    def _snapshot_paths(self, model: str) -> tuple[Path, Path, Path]:
        tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)
        return (self.path.with_name(f"vectors-{tag}.npy"), self.path.with_name(f"vectors-{tag}.ids.npy"),
                self.path.with_name(f"vectors-{tag}.json"))

    def _load_vector_snapshot(self, model: str, gen: int, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
        data_path, ids_path, meta_path = self._snapshot_paths(model)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("generation") != gen or meta.get("dim") != dim:
                return None
            ids = np.load(ids_path)
            matrix = np.load(data_path, mmap_mode="r")
        except (OSError, ValueError):
            return None
        if matrix.shape != (len(ids), dim):
            return None
        return ids, matrix

    def _save_vector_snapshot(self, model: str, gen: int, ids: np.ndarray, matrix: np.ndarray) -> None:
        """Best effort: a read-only index folder just means no snapshot."""
        data_path, ids_path, meta_path = self._snapshot_paths(model)
        try:
            meta_path.unlink(missing_ok=True)  # the tag goes last: a half-written snapshot is never used
            for path, array in ((data_path, matrix), (ids_path, ids)):
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, array)
                os.replace(tmp, path)
            meta_tmp = meta_path.with_suffix(".tmp")
            meta_tmp.write_text(json.dumps({"generation": gen, "dim": int(matrix.shape[1])}), encoding="utf-8")
            os.replace(meta_tmp, meta_path)
        except OSError:
            pass

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

    # -- retrieval statistics (used by prism.retrieve.lexical) ------------------------------

    def count_chunks(self) -> int:
        """How many chunks the index holds (cached until the next write)."""
        gen = self.generation()
        cached = getattr(self, "_chunk_count", None)
        if cached is not None and cached[0] == gen:
            return int(cached[1])
        count = int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        self._chunk_count = (gen, count)
        return count

    def term_document_counts(self, terms: Sequence[str]) -> dict[str, int]:
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
            rows = self._conn.execute(
                f"SELECT term, doc FROM temp.chunks_vocab WHERE term IN ({','.join('?' * len(part))})",
                part)
            found.update((str(r[0]), int(r[1])) for r in rows)
        known.update({t: found.get(t, 0) for t in wanted})  # 0: not in the index (also worth keeping)
        return {t: known[t] for t in terms if known.get(t)}
