"""Upload paths are validated and '/'-normalised; a project recreated by another worker gets a fresh engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism.errors import PathError
from prism.serve.http.projects import normalise_upload_path


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
