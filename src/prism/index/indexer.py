"""The incremental indexer: bring a project's index in line with the files on disk.

Two phases. `sync` walks, hashes and chunks files and writes them with their full-text
and graph rows: the index is searchable lexically as soon as it returns. `embed_pending`
then fills in dense vectors for chunk texts the embedding cache has not seen. Both commit
in batches, so a killed process loses at most the batch in flight and the next run resumes
where it stopped: unchanged files (same SHA-256) cost a stat, or a read after `git checkout`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

from prism.errors import IndexLockedError
from prism.index.embed import EMBED_VIEW, Embedder, document_text
from prism.index.embed_cache import ChunkVectorCache
from prism.index.parse_pool import ParseJob, ParseOptions, parse_all
from prism.index.store import IndexedFile, Store
from prism.ingest.chunk import CHUNKER_VERSION
from prism.ingest.languages import detect_language
from prism.ingest.walk import Skipped, WalkOptions, walk
from prism.models import SourceFile
from prism.private_files import private_dir
from prism.settings_view import SettingsView

# Progress callback: (phase, done, total). Phases: "scan", "index", "embed".
ProgressFn = Callable[[str, int, int], None]

BATCH_FILES = 64
BATCH_CHUNKS = 2000
MAX_REPORTED_SKIPS = 200  # in an index report; the index keeps up to MAX_STORED_SKIPS for status
MAX_STORED_SKIPS = 10_000
# Meta key: the tokenizer setting that counted the chunks and priced their levels (parse_pool).
# An index priced by another one, or from before pricing, is re-chunked on its next sync.
LEVELS_PRICED_BY = "levels_tokenizer"
# Meta key: the EMBED_VIEW whose texts the chunks' text hashes are of; another one re-chunks.
EMBED_VIEW_KEY = "embed_view"
NO_VECTOR = ""  # the text hash of a chunk that gets no vector (see prism.index.vector_scope)
PENDING_WINDOW = 8  # embed batches fetched at once and sorted by length (less padding)


@dataclass
class IndexReport:
    """What one sync (and optional embedding pass) did."""

    files_seen: int = 0
    files_indexed: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0
    chunks_written: int = 0
    tokens_written: int = 0  # tokens in the chunks written (the metrics' indexing throughput)
    embedded: int = 0
    pending_embeddings: int = 0
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        skipped: dict[str, int] = {}
        for item in self.skipped:
            skipped[item.reason] = skipped.get(item.reason, 0) + 1
        return {
            "files_seen": self.files_seen, "files_indexed": self.files_indexed,
            "files_unchanged": self.files_unchanged, "files_deleted": self.files_deleted,
            "chunks_written": self.chunks_written, "tokens_written": self.tokens_written, "embedded": self.embedded,
            "pending_embeddings": self.pending_embeddings, "seconds": round(self.seconds, 3),
            "skipped": skipped,
            "skipped_files": [skipped_to_dict(s) for s in self.skipped[:MAX_REPORTED_SKIPS]],
            "warnings": self.warnings[:50],
        }


def skipped_to_dict(item: Skipped) -> dict[str, str]:
    return {"path": item.path, "reason": item.reason, "detail": item.detail}


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """Hold the project's writer lock; a second writer fails at once with a clear message."""
    private_dir(index_dir)
    lock = filelock.FileLock(str(index_dir / "index.lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        raise IndexLockedError(
            f"Another PRISM process is updating the index in {index_dir}.",
            hint="Wait for it to finish (or stop it), then run the command again.",
            value=index_dir,
        ) from exc
    try:
        yield
    finally:
        lock.release()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_hash(text: str) -> str:
    """Key of the embedding cache: the hash of exactly what the embedder sees."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


class Indexer:
    """Synchronises one project's store with its files. Callers hold index_lock."""

    def __init__(self, root: Path, store: Store, settings: SettingsView) -> None:
        self.root = root
        self.store = store
        self.settings = settings

    def sync(self, *, force: bool = False, include: tuple[str, ...] = (),
             exclude: tuple[str, ...] = (), progress: ProgressFn | None = None,
             order: Callable[[SourceFile], Any] | None = None,
             workers: int | None = None) -> IndexReport:
        """Phase 1: walk, chunk and store changed files; delete vanished ones.

        `order` is a sort key: files are written (and become searchable) in that order.
        Files are parsed in worker processes when there are many (`workers`: see parse_all).
        """
        started = time.perf_counter()
        report = IndexReport()
        if self.store.get_meta("chunker_version") != CHUNKER_VERSION:
            if self.store.count_chunks():
                force = True  # built by another chunker: re-chunk all (meta moves when this sync ends)
            else:  # a new index: record the version now, so a killed first run still resumes
                self.store.set_meta({"chunker_version": CHUNKER_VERSION})
        priced_by = self.settings.tokenizer.strip().lower()
        if self.store.get_meta(LEVELS_PRICED_BY) != priced_by:
            if self.store.count_chunks():
                force = True  # chunks counted by another tokenizer, or levels never priced: count again
            else:
                self.store.set_meta({LEVELS_PRICED_BY: priced_by})
        if self.store.get_meta(EMBED_VIEW_KEY) != EMBED_VIEW:
            if self.store.count_chunks():
                force = True  # text hashes of another document view: hash (and re-chunk) again
            else:
                self.store.set_meta({EMBED_VIEW_KEY: EMBED_VIEW})
        options = WalkOptions(max_file_bytes=self.settings.max_file_bytes,
                              include=include, exclude=exclude)
        files = list(walk(self.root, options, on_skip=report.skipped.append))
        if order is not None:
            files.sort(key=order)
        report.files_seen = len(files)
        states = self.store.file_states()
        plan: list[ParseJob | None] = []  # None: unchanged by size and mtime, nothing to read
        for source in files:
            state = states.get(source.path)
            if (not force and state is not None and state.size == source.size
                    and state.mtime == source.mtime):
                plan.append(None)
            else:
                plan.append(ParseJob(source, force, state.sha256 if state else None))
        parse_options = ParseOptions(self.root, self.settings.tokenizer, self.settings.max_chunk_tokens,
                               self.settings.window_lines, self.settings.window_overlap)
        results = parse_all(parse_options, [job for job in plan if job is not None], workers=workers)
        batch: list[IndexedFile] = []
        batch_chunks = 0
        touched: list[tuple[str, int, float]] = []
        for done, (source, job) in enumerate(zip(files, plan, strict=True), 1):
            if job is None:
                report.files_unchanged += 1
            else:
                parsed = next(results)
                if parsed.unreadable:
                    report.skipped.append(Skipped(source.path, "unreadable"))
                report.warnings.extend(parsed.warnings)
                if parsed.item is None:
                    if job.old_sha is not None:
                        touched.append((source.path, source.size, source.mtime))
                    report.files_unchanged += 1
                else:
                    batch.append(parsed.item)
                    batch_chunks += len(parsed.item.chunks)
            if len(batch) >= BATCH_FILES or batch_chunks >= BATCH_CHUNKS:
                self._flush(batch, report)
                batch, batch_chunks = [], 0
            if progress is not None:
                progress("index", done, len(files))
        self._flush(batch, report)
        self.store.touch_files(touched)
        seen = {f.path for f in files}
        gone = [path for path in states if path not in seen]
        self.store.delete_files(gone)
        report.files_deleted = len(gone)
        report.warnings.extend(f"{s.path}: skipped as binary: {s.detail}." for s in report.skipped
                               if s.reason == "binary" and detect_language(s.path) is not None)
        skipped = [[s.path, s.reason, s.detail] for s in report.skipped[:MAX_STORED_SKIPS]]
        self.store.set_meta({"root": str(self.root), "last_sync": str(time.time()),
                             "chunker_version": CHUNKER_VERSION, LEVELS_PRICED_BY: priced_by,
                             EMBED_VIEW_KEY: EMBED_VIEW,
                             "skipped": json.dumps(skipped)})
        report.seconds = time.perf_counter() - started
        return report

    def _flush(self, batch: list[IndexedFile], report: IndexReport) -> None:
        if not batch:
            return
        self.store.write_files(batch)
        report.files_indexed += len(batch)
        report.chunks_written += sum(len(item.chunks) for item in batch)
        report.tokens_written += sum(chunk.tokens for item in batch for chunk in item.chunks)

    def embed_pending(self, embedder: Embedder, *, batch_size: int = 64,
                      progress: ProgressFn | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      shared: ChunkVectorCache | None = None) -> int:
        """Phase 2: embed every chunk text without a vector for this model; returns how many.

        Vectors found in the shared cache are copied instead of computed. Texts are taken
        PENDING_WINDOW batches at a time, shortest first, so that a batch pads little.
        """
        self.ensure_model(embedder)
        self.hash_texts()
        model = embedder.model_id
        window = batch_size * PENDING_WINDOW
        pending = self.store.pending_embeddings(model, window)
        if not pending:  # the common case for watch and re-index: no counting scan at all
            return 0
        total = self.store.count_pending_embeddings(model) if progress is not None else 0
        done = 0
        while pending:
            if should_stop is not None and should_stop():
                break
            if shared is not None:
                known = shared.get(model, [h for h, _ in pending])
                if known:
                    self.store.put_embeddings(model, list(known.items()))
                    done += len(known)
                    pending = [(h, cid) for h, cid in pending if h not in known]
            chunks = {sc.id: sc.chunk for sc in self.store.get_chunks([cid for _, cid in pending])}
            work = sorted(((h, document_text(chunks[cid])) for h, cid in pending if cid in chunks),
                          key=lambda item: len(item[1]))
            for start in range(0, len(work), batch_size):
                part = work[start:start + batch_size]
                vectors = embedder.embed_documents([text for _, text in part])
                items = [(h, vectors[i]) for i, (h, _) in enumerate(part)]
                self.store.put_embeddings(model, items)
                if shared is not None:  # only under the hash of the very text embedded
                    shared.put(model, [item for item, (_, text) in zip(items, part, strict=True)
                                       if text_hash(text) == item[0]])
                done += len(part)
                if progress is not None:
                    progress("embed", min(done, total), max(total, done))
            pending = self.store.pending_embeddings(model, window)
        return done

    def hash_texts(self) -> int:
        """Hash the embedding text of every UNHASHED chunk (sync leaves them so); returns how many.

        Batches commit one by one, so a killed pass resumes where it stopped.
        """
        done = 0
        while ids := self.store.unhashed_chunks(BATCH_CHUNKS):
            chunks = self.store.get_chunks(ids)
            self.store.set_text_hashes([(sc.id, text_hash(document_text(sc.chunk))) for sc in chunks])
            done += len(chunks)
            if len(chunks) < len(ids):  # a chunk vanished meanwhile (not under this writer's lock)
                break
        return done

    def ensure_model(self, embedder: Embedder) -> None:
        """Record the model that builds this index; switching models drops the old vectors."""
        current = self.store.get_meta("embed_model")
        if current != embedder.model_id:
            self.store.drop_embeddings(keep_model=embedder.model_id)
            self.store.set_meta({"embed_model": embedder.model_id, "embed_dim": str(embedder.dim)})
