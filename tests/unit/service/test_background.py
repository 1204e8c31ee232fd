"""Unit tests for prism.service.background: first sync, progress, resync on request and on file change."""

from __future__ import annotations

import time
from pathlib import Path

from prism.config import Settings
from prism.engine import Prism
from prism.index.indexer import index_lock
from prism.service.background import BackgroundIndexer


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def first():\n    return 1\n")
    return repo


def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", embedder="hashing", threads=1)


def test_syncs_embeds_and_reports_progress(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    worker = BackgroundIndexer(Prism(repo, settings=settings(tmp_path)), watch=False)
    assert worker.progress.phase == "starting" and not worker.progress.ready
    worker.start()
    try:
        assert worker.wait_ready(20)
        deadline = time.monotonic() + 20
        while worker.progress.phase not in ("stopped", "error") and time.monotonic() < deadline:
            time.sleep(0.05)
        progress = worker.progress
        assert progress.phase == "stopped", progress
        assert progress.ready and progress.syncs == 1 and progress.files_indexed == 1
        assert progress.embedded >= 1
        reader = Prism(repo, settings=settings(tmp_path))
        assert reader.store.stats()["files"] == 1
        assert reader.store.count_pending_embeddings(reader.store.get_meta("embed_model") or "") == 0
        reader.close()
        # An explicit request resyncs and picks up new files.
        (repo / "b.py").write_text("def second():\n    return 2\n")
        seen = worker.request_sync()
        assert worker.wait_synced_past(seen, 20)
        assert worker.progress.files_indexed == 1
    finally:
        worker.stop()
    assert not worker.alive


def test_watches_and_resyncs_on_change(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    worker = BackgroundIndexer(Prism(repo, settings=settings(tmp_path)), watch=True, debounce_ms=50)
    worker.start()
    try:
        assert worker.wait_ready(20)
        deadline = time.monotonic() + 20
        while worker.progress.phase != "watching" and time.monotonic() < deadline:
            time.sleep(0.05)
        syncs = worker.progress.syncs
        (repo / "a.py").write_text("def first_changed():\n    return 3\n")
        assert worker.wait_synced_past(syncs, 20)
    finally:
        worker.stop()


def test_waits_while_another_writer_holds_the_lock(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    writer = Prism(repo, settings=settings(tmp_path))
    worker = BackgroundIndexer(Prism(repo, settings=settings(tmp_path)), watch=False, embed=False)
    with index_lock(writer.index_dir):
        worker.start()
        deadline = time.monotonic() + 20
        while worker.progress.phase != "waiting" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.progress.phase == "waiting"
        assert worker.progress.error and "Another PRISM process" in worker.progress.error
    try:
        worker.request_sync()
        assert worker.wait_ready(20)
    finally:
        worker.stop()
        writer.close()
