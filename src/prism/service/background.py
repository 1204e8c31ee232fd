"""Keep one project's index built and fresh from a background thread while readers answer.

The thread runs the indexer's phases in order: `sync` (the index is lexically searchable as
soon as it returns), then `embed` (dense vectors fill in, stoppable between batches), then
it watches the tree and repeats both for every debounced burst of changes. It writes
through its own `Prism`, so its SQLite connection never interleaves with a reader's (WAL
lets readers see each committed batch). Adapters (MCP, HTTP) read `progress` to tell the
user what is ready. When another process holds the project's index lock the thread waits
and retries, and readers go on answering from the index that process is building.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from prism.config import Settings
from prism.errors import IndexLockedError, PrismError
from prism.ingest.paths import in_secondary_place, is_code

if TYPE_CHECKING:
    from prism.engine import Prism
    from prism.models import SourceFile

log = logging.getLogger("prism.service.background")

Phase = Literal["starting", "indexing", "embedding", "watching", "waiting", "stopped", "error"]

LOCK_RETRY_S = 2.0
@dataclass(frozen=True)
class Progress:
    """A snapshot of what the background indexer is doing and has done."""

    phase: Phase
    done: int = 0  # files or chunks done in the current phase
    total: int = 0
    syncs: int = 0  # completed sync passes (1 after the first full sync)
    files_indexed: int = 0  # files (re)written by the last sync
    embedded: int = 0  # vectors added since start
    last_sync_at: float | None = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        """True once the first sync finished: every file on disk is lexically searchable."""
        return self.syncs > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "phase": self.phase, "done": self.done, "total": self.total, "syncs": self.syncs,
            "files_indexed": self.files_indexed, "embedded": self.embedded,
            "last_sync_at": self.last_sync_at, "error": self.error, "ready": self.ready,
        }


def _lower_priority() -> None:
    """Nice this thread (Linux: per thread, inherited by the model's worker threads) so answers come first."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux or not allowed: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def first_files_first(source: SourceFile) -> tuple[int, str]:
    """Sort key for a first sync: source folders before tests, fixtures, docs and data; prose and
    config after code; path order within a group. (Smallest-first was tried: it pushed the big
    central modules, e.g. sqlfluff's linter.py, behind hundreds of small files.)"""
    secondary = in_secondary_place(source.path)
    return (2 * secondary + (not is_code(source.language)), source.path)


def background_settings(settings: Settings) -> Settings:
    """Settings for the background writer: leave a core free for answering (embedding threads)."""
    if settings.threads:
        return settings
    return settings.model_copy(update={"threads": max(1, (os.cpu_count() or 2) - 1)})


class BackgroundIndexer:
    """Sync, embed, then watch one project in a daemon thread.

    >>> worker = BackgroundIndexer(Prism(root, settings=settings))
    >>> worker.start(); worker.wait_ready(5.0)
    """

    def __init__(self, writer: Prism, *, watch: bool = True, embed: bool | None = None,
                 debounce_ms: int = 200) -> None:
        self.writer = writer  # a Prism used by this thread only
        self.watch = watch
        self.embed = writer.settings.embed if embed is None else embed
        self.debounce_ms = debounce_ms
        self._stop = threading.Event()
        self._wake = threading.Event()  # stop, or an explicit resync request
        self._resync = threading.Event()
        self._ready = threading.Event()
        self._searchable = threading.Event()  # the first batch of files is committed
        self._synced = threading.Condition()
        self._lock = threading.Lock()
        self._progress = Progress("starting")
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"prism-index:{self.writer.root.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the thread to finish its current batch and exit; wait up to timeout_s."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.writer.close()

    def request_sync(self) -> int:
        """Ask for a sync now (interrupting embedding or watching); returns the sync count to wait past."""
        with self._lock:
            syncs = self._progress.syncs
        self._resync.set()
        self._wake.set()
        return syncs

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the first sync finished; True when it did."""
        return self._ready.wait(timeout_s)

    def wait_searchable(self, timeout_s: float) -> bool:
        """Wait until the first batch of files is committed (or the first sync finished)."""
        return self._searchable.wait(timeout_s)

    def wait_synced_past(self, syncs: int, timeout_s: float) -> bool:
        """Wait until more than `syncs` sync passes completed; True when they did."""
        deadline = time.monotonic() + timeout_s
        with self._synced:
            while self.progress.syncs <= syncs:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return False
                self._synced.wait(left)
        return True

    @property
    def progress(self) -> Progress:
        with self._lock:
            return self._progress

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the thread ------------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._progress = dataclasses.replace(self._progress, **changes)

    def _on_progress(self, phase: str, done: int, total: int) -> None:
        self._set(done=done, total=total)
        if phase == "index" and not self._searchable.is_set() and done % 8 == 0:
            with contextlib.suppress(sqlite3.Error):  # a busy store: ask again a few files later
                if self.writer.store.count_chunks() > 0:
                    self._searchable.set()

    def _should_stop_embedding(self) -> bool:
        return self._stop.is_set() or self._resync.is_set()

    def _run(self) -> None:
        _lower_priority()
        try:
            while not self._stop.is_set():
                self._resync.clear()
                if not self._pass():
                    continue  # locked by another process: retried after a pause
                if self._resync.is_set():
                    continue
                if not self.watch:
                    self._set(phase="stopped")
                    self._wake.wait()
                    self._wake.clear()
                    continue
                self._set(phase="watching", done=0, total=0)
                self._wait_for_changes()
        except Exception as exc:  # the thread must report, never die silently
            log.exception("background indexing of %s failed", self.writer.root)
            self._set(phase="error", error=f"{type(exc).__name__}: {exc}")
        finally:
            if self.progress.phase != "error":
                self._set(phase="stopped")
            with self._synced:
                self._synced.notify_all()

    def _pass(self) -> bool:
        """One sync and embedding pass; False when another process holds the index lock."""
        self._set(phase="indexing", done=0, total=0, error=None)
        try:
            report = self.writer.index(embed=False, progress=self._on_progress,
                                       order=first_files_first)
        except (IndexLockedError, sqlite3.OperationalError) as exc:
            # Another writer (a CLI run, or a reader recording usage) holds the lock: retry.
            message = exc.message if isinstance(exc, IndexLockedError) else f"SQLite: {exc}"
            self._set(phase="waiting", error=message)
            self._wake.wait(LOCK_RETRY_S)
            self._wake.clear()
            return False
        except PrismError as exc:
            self._set(phase="error", error=str(exc))
            self._wake.wait(LOCK_RETRY_S * 5)
            self._wake.clear()
            return False
        self._set(syncs=self.progress.syncs + 1, files_indexed=report.files_indexed,
                  last_sync_at=time.time())
        self._ready.set()
        self._searchable.set()
        with self._synced:
            self._synced.notify_all()
        if report.files_indexed or report.files_deleted:
            log.info("indexed %s: %d files updated, %d deleted in %.2fs", self.writer.root,
                     report.files_indexed, report.files_deleted, report.seconds)
        if self.embed and not self._should_stop_embedding():
            self._set(phase="embedding", done=0, total=0)
            try:
                added = self.writer.embed(progress=self._on_progress,
                                          should_stop=self._should_stop_embedding)
            except (IndexLockedError, sqlite3.OperationalError) as exc:
                log.info("embedding paused (%s); resuming at the next change", exc)
                return True  # lexical search is ready either way
            self._set(embedded=self.progress.embedded + added)
        return True

    def _wait_for_changes(self) -> None:
        """Block until files change (or stop/resync is asked); the caller then syncs again."""
        import watchfiles

        from prism.service.watch import _relevant

        for _changes in watchfiles.watch(self.writer.root, watch_filter=_relevant,
                                         debounce=self.debounce_ms, step=50,
                                         stop_event=self._wake, raise_interrupt=False):
            return
        self._wake.clear()
