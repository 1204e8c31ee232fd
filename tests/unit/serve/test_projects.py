"""Upload paths are validated and '/'-normalised; a project recreated by another worker gets a fresh engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism.errors import PathError
from prism.serve.http.projects import ProjectRegistry, normalise_upload_path


@pytest.mark.parametrize(("raw", "expected"), [
    ("src/app.py", "src/app.py"), ("./src//app.py", "src/app.py"), ("src\\win\\file.py", "src/win/file.py"),
    ("a/./b.py", "a/b.py"),
])
def test_good_paths_are_normalised(raw: str, expected: str) -> None:
    assert normalise_upload_path(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "/etc/passwd", "\\\\server\\share", "C:/x.py", "c:x.py", "../x.py", "a/../../x.py", "a\x00.py",
    "a\nb.py", ".", "x" * 1025,
])
def test_bad_paths_are_refused(raw: str) -> None:
    with pytest.raises(PathError):
        normalise_upload_path(raw)


def test_a_project_recreated_by_another_worker_is_reopened(prism_home: Path) -> None:
    """Two registries on one home stand for two worker processes: B never reads A's deleted index."""
    from prism.config import Settings
    from prism.errors import ProjectError
    from prism.serve.http.db import ServerDB
    from prism.serve.http.projects import ProjectRegistry

    settings = Settings(home=prism_home, embedder="hashing", embed=False)

    def registry() -> ProjectRegistry:
        return ProjectRegistry(ServerDB(prism_home / "server" / "server.db"), settings, [], 1 << 20)

    first, second = registry(), registry()
    first.create("demo")
    first.upload("demo", [("a.py", "def alpha():\n    return 1\n")], [])
    first.index("demo")
    old = second.engine("demo")
    assert old.store.stats()["files"] == 1  # B's engine has the index open
    first.delete("demo")
    with pytest.raises(ProjectError):
        second.engine("demo")  # gone for B at once, and B's engine is closed
    first.create("demo")
    first.upload("demo", [("b.py", "def beta():\n    return 2\n"), ("c.py", "X = 3\n")], [])
    first.index("demo")
    fresh = second.engine("demo")
    assert fresh is not old and fresh.store.stats()["files"] == 2
    assert second.engine("demo") is fresh  # cached while the record is unchanged
    first.close()
    second.close()


def registry_for(home: Path, **quotas: int) -> ProjectRegistry:
    from prism.config import Settings
    from prism.serve.http.db import ServerDB

    settings = Settings(home=home, embedder="hashing", embed=False)
    return ProjectRegistry(ServerDB(home / "server" / "server.db"), settings, [], 1 << 20, **quotas)


@pytest.mark.parametrize("raw", [
    "src/\u202egnp.py", "a\u2066b.py", "zero\u200bwidth.py", "bom\ufeff.py", "del\x7f.py", "c1\x85.py",
    "line\u2028sep.py",
])
def test_names_with_bidi_invisible_or_control_characters_are_refused(raw: str) -> None:
    """U+202E makes `src/\u202egnp.py` display as `src/yp.png`: such names never reach the project."""
    with pytest.raises(PathError) as info:
        normalise_upload_path(raw)
    assert "U+" in info.value.message and "Rename" in info.value.hint
    assert raw not in info.value.message  # the name is shown escaped, not rendered


def test_a_bidi_name_fails_alone_in_an_upload(prism_home: Path) -> None:
    projects = registry_for(prism_home)
    root = projects.create("demo").root
    outcomes = projects.upload("demo", [("ok.py", "X = 1\n"), ("evil\u202eyp.txt", "X = 2\n")], [])
    assert [(o.status, "U+202E" in o.reason) for o in outcomes] == [("written", False), ("failed", True)]
    assert sorted(p.name for p in root.iterdir()) == ["ok.py"]
    projects.close()


def test_a_failed_write_leaves_no_temp_file(prism_home: Path) -> None:
    projects = registry_for(prism_home)
    root = projects.create("demo").root
    projects.upload("demo", [("pkg/mod.py", "X = 1\n")], [])
    # `pkg` is a folder now: storing a file named `pkg` fails at the rename, after the temp file is written.
    [outcome] = projects.upload("demo", [("pkg", "Y = 2\n")], [])
    assert outcome.status == "failed" and "cannot store" in outcome.reason
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["pkg", "pkg/mod.py"]
    projects.close()


def test_project_quotas_refuse_the_whole_upload(prism_home: Path) -> None:
    from prism.serve.http.errors import QuotaExceededError

    projects = registry_for(prism_home, max_project_files=3, max_project_bytes=100)
    root = projects.create("demo").root
    projects.upload("demo", [("a.py", "A = 1\n"), ("b.py", "B = 2\n")], [])
    with pytest.raises(QuotaExceededError) as info:
        projects.upload("demo", [("c.py", "C = 3\n"), ("d.py", "D = 4\n")], [])
    assert info.value.http_status == 413 and info.value.code == "quota_exceeded"
    assert "would hold 4 files" in info.value.message and "PRISM_MAX_PROJECT_FILES" in info.value.hint
    assert sorted(p.name for p in root.iterdir()) == ["a.py", "b.py"]  # nothing of the refused request
    # deleting in the same request makes room; rewriting a file counts its new size, not both
    outcomes = projects.upload("demo", [("c.py", "C = 3\n"), ("d.py", "D = 4\n")], ["a.py"])
    assert [o.status for o in outcomes] == ["written", "written", "deleted"]
    with pytest.raises(QuotaExceededError, match="bytes"):
        projects.upload("demo", [("b.py", "B = 2\n" * 30)], [])
    projects.close()


def test_upload_folders_and_files_are_private(prism_home: Path) -> None:
    import stat

    projects = registry_for(prism_home)
    root = projects.create("demo").root
    projects.upload("demo", [("deep/er/x.py", "X = 1\n")], [])
    for path in (root, root / "deep", root / "deep" / "er"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    assert stat.S_IMODE((root / "deep" / "er" / "x.py").stat().st_mode) == 0o600
    projects.close()


def test_an_index_request_is_one_generation_completed_only_at_the_end(prism_home: Path) -> None:
    projects = registry_for(prism_home)
    projects.create("demo")
    assert projects.status("demo").to_dict() == {"started": 0, "completed": 0, "phase": "new"}
    outcomes, report = projects.index_request("demo", [("a.py", "def a():\n    return 1\n")], [])
    assert [o.status for o in outcomes] == ["written"] and report.files_indexed == 1
    assert projects.status("demo").to_dict() == {"started": 1, "completed": 1, "phase": "ready"}
    with pytest.raises(PathError):  # a failure during the request marks it failed; the last complete one stays
        _fail_index(projects)
    failed = projects.status("demo")
    assert failed.to_dict() == {"started": 2, "completed": 1, "phase": "failed"} and failed.indexed
    projects.close()


def _fail_index(projects: ProjectRegistry) -> None:
    engine = projects.engine("demo")
    original = engine.index

    def broken(**_: object) -> object:
        raise PathError("simulated failure while indexing")

    engine.index = broken  # type: ignore[method-assign]
    try:
        projects.index_request("demo", [], [])
    finally:
        engine.index = original  # type: ignore[method-assign]


def test_a_generation_begun_by_a_dead_process_reads_as_interrupted(prism_home: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """What kill -9 leaves: a begun generation and a free lock. Upload → reported; indexing → finished."""
    import json

    projects = registry_for(prism_home)
    projects.create("up")
    projects.create("ix")
    projects.index_request("ix", [("a.py", "A = 1\n")], [])
    state = prism_home / "server" / "state"
    (state / "up.json").write_text(json.dumps({"started": 1, "completed": 0, "phase": "uploading"}))
    (state / "ix.json").write_text(json.dumps({"started": 2, "completed": 1, "phase": "indexing"}))
    assert projects.status("up").phase == "upload_interrupted" and not projects.status("up").indexed
    assert projects.status("ix").phase == "indexing_interrupted" and projects.status("ix").indexed
    assert projects.recover() == ["ix"]
    assert projects.status("ix").to_dict() == {"started": 3, "completed": 3, "phase": "ready"}
    assert projects.status("up").phase == "upload_interrupted"  # only the client can resend it
    assert any("send the upload again" in r.getMessage() for r in caplog.records)
    with projects._writer("up"):  # a live writer holds the lock: in progress, not interrupted
        assert ProjectRegistry.status(registry_for(prism_home), "up").phase == "uploading"
    projects.close()
