"""`prism watch`: an edited file is re-indexed shortly after the save."""

from __future__ import annotations

import threading
from pathlib import Path

from prism.engine import Prism
from prism.index.indexer import IndexReport
from prism.service.watch import watch_project


def test_watch_reindexes_an_edited_file(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text("def alpha():\n    return 1\n")
    stop = threading.Event()
    reports: list[IndexReport] = []
    updated = threading.Event()

    with Prism(root) as prism:
        def run() -> None:
            for report in watch_project(prism, debounce_ms=50, stop=stop):
                reports.append(report)
                if len(reports) == 1:
                    started.set()
                elif report.files_indexed:
                    updated.set()

        started = threading.Event()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert started.wait(30), "the initial index did not finish"
        (root / "a.py").write_text("def alpha():\n    return 1\n\n\ndef beta_watch_marker():\n    return 2\n")
        assert updated.wait(30), "the edit was not picked up"
        stop.set()
        thread.join(10)
        names = {sc.chunk.qualified_name for sc in prism.store.iter_chunks()}
        assert "beta_watch_marker" in names
