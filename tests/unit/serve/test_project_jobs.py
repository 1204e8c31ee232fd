"""The worker's `index` handler for server projects: it waits for the project's writer lock and records a generation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prism.errors import IndexLockedError, ProjectError
from prism.serve.http.db import ServerDB
from prism.serve.http.project_jobs import project_handlers
from prism.service.jobs import new_job

SHOP = Path(__file__).parent.parent.parent / "fixtures" / "repos" / "shop"


def no_progress(phase: str, done: int, total: int) -> None:
    pass


def test_a_project_job_takes_the_writer_lock_and_records_one_generation(tmp_path: Path) -> None:
    store = ServerDB(tmp_path / "server" / "server.db")
    repo = shutil.copytree(SHOP, tmp_path / "shop")
    assert store.add_project(("shop", "path", str(repo), str(tmp_path / "index"), 1.0))
    index = project_handlers(lambda: store, tmp_path / "server")["index"]
    job = new_job("index", {"root": str(repo), "index_dir": str(tmp_path / "index"), "project": "shop"})
    with store.project_lock("shop", 0.0) as held:  # an index request is running
        assert held
        with pytest.raises(IndexLockedError):
            index(job, no_progress, lambda: True)  # asked to stop while waiting: nothing recorded
    assert store.index_state("shop") is None
    result = index(job, no_progress, lambda: False)
    assert int(str(result["files_indexed"])) > 0
    assert store.index_state("shop") == (1, 1, "ready")
    shutil.rmtree(repo)
    with pytest.raises(ProjectError):
        index(job, no_progress, lambda: False)
    assert store.index_state("shop") == (2, 1, "failed")  # the last good generation stays the completed one


def test_a_job_without_a_known_project_is_a_plain_index_job(tmp_path: Path) -> None:
    opened: list[ServerDB] = []
    repo = shutil.copytree(SHOP, tmp_path / "shop")
    index = project_handlers(lambda: opened.append(ServerDB(tmp_path / "server.db")) or opened[-1],
                             tmp_path / "server")["index"]
    assert index(new_job("index", {"root": str(repo), "index_dir": str(tmp_path / "i")}), no_progress,
                 lambda: False)["files_indexed"]
    assert not opened  # no project: the server store is not even opened
    assert index(new_job("index", {"root": str(repo), "index_dir": str(tmp_path / "i"), "project": "gone"}),
                 no_progress, lambda: False)["files_indexed"] == 0  # indexed already; no generation recorded
    assert opened and opened[0].index_state("gone") is None
