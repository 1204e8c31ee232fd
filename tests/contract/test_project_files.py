"""Contract suite for ProjectFiles: the embedded folder and PostgreSQL keep an uploaded project's files alike.

Each test runs on both backends. `files_for(home)` opens the server store's ProjectFiles for a
host whose PRISM_HOME is `home`: on SQLite the folder under that home is the store, on
PostgreSQL two homes stand for two replicas on one database, each with its own checkout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from prism.serve.http.server_store import ServerStore, open_server_store
from prism.serve.http.uploads import FILE_IN_THE_WAY, FOLDER_IN_THE_WAY, NO_SUCH_FILE, ProjectFiles
from services import scratch_database

FilesFor = Callable[[Path], ProjectFiles]


@pytest.fixture(params=["sqlite", "postgresql"])
def files_for(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FilesFor]:
    with ExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = stack.enter_context(scratch_database(str(request.getfixturevalue("postgres_url"))))
        stores: dict[Path, ServerStore] = {}

        def open_for(home: Path) -> ProjectFiles:
            # Embedded, the store is one host's: every "home" is the same one.
            folder = (home if url else tmp_path / "a") / "server"
            if folder not in stores:
                stores[folder] = open_server_store(folder, url)
                stack.callback(stores[folder].close)
            store = stores[folder]
            if store.project("demo") is None:
                assert store.add_project(("demo", "upload", str(folder / "files" / "demo"),
                                          str(folder / "indexes" / "demo"), 1.0))
            return store.project_files(folder / "files")

        yield open_for


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_files_written_are_checked_out_exactly(files_for: FilesFor, tmp_path: Path) -> None:
    files = files_for(tmp_path / "a")
    outcomes = files.apply("demo", [("src/app.py", b"A = 1\n"), ("README.md", b"# demo\n")], [])
    assert [(o.path, o.status) for o in outcomes] == [("src/app.py", "written"), ("README.md", "written")]
    assert files.sizes("demo") == {"src/app.py": 6, "README.md": 7}
    assert tree(files.checkout("demo")) == {"README.md": b"# demo\n", "src/app.py": b"A = 1\n"}


def test_unchanged_content_is_not_rewritten_and_changes_replace_it(files_for: FilesFor, tmp_path: Path) -> None:
    files = files_for(tmp_path / "a")
    files.apply("demo", [("app.py", b"A = 1\n")], [])
    assert [o.status for o in files.apply("demo", [("app.py", b"A = 1\n")], [])] == ["unchanged"]
    assert [o.status for o in files.apply("demo", [("app.py", b"A = 2\n")], [])] == ["written"]
    assert tree(files.checkout("demo")) == {"app.py": b"A = 2\n"}


def test_deletes_remove_a_file_and_a_missing_one_fails_alone(files_for: FilesFor, tmp_path: Path) -> None:
    files = files_for(tmp_path / "a")
    files.apply("demo", [("a.py", b"1\n"), ("pkg/b.py", b"2\n")], [])
    outcomes = files.apply("demo", [], ["pkg/b.py", "nope.py"])
    assert [(o.path, o.status, o.reason) for o in outcomes] == [("pkg/b.py", "deleted", ""),
                                                               ("nope.py", "failed", NO_SUCH_FILE)]
    assert tree(files.checkout("demo")) == {"a.py": b"1\n"}
    assert files.sizes("demo") == {"a.py": 2}


def test_a_file_and_a_folder_of_one_name_cannot_both_exist(files_for: FilesFor, tmp_path: Path) -> None:
    files = files_for(tmp_path / "a")
    outcomes = files.apply("demo", [("pkg/mod.py", b"X = 1\n"), ("pkg", b"Y\n"), ("pkg/mod.py/x.py", b"Z\n"),
                                    ("ok.py", b"ok\n")], [])
    assert [(o.status, o.reason) for o in outcomes] == [
        ("written", ""), ("failed", FOLDER_IN_THE_WAY), ("failed", FILE_IN_THE_WAY), ("written", "")]
    assert tree(files.checkout("demo")) == {"ok.py": b"ok\n", "pkg/mod.py": b"X = 1\n"}
    files.apply("demo", [], ["pkg/mod.py"])  # the folder is empty now: a file may take its name
    assert [o.status for o in files.apply("demo", [("pkg", b"Y\n")], [])] == ["written"]
    assert tree(files.checkout("demo")) == {"ok.py": b"ok\n", "pkg": b"Y\n"}


def test_forget_removes_every_file(files_for: FilesFor, tmp_path: Path) -> None:
    files = files_for(tmp_path / "a")
    files.apply("demo", [("a.py", b"1\n"), ("b.py", b"1\n")], [])
    root = files.checkout("demo")
    files.forget("demo")
    assert files.sizes("demo") == {}
    assert not root.exists() or tree(root) == {}
    assert tree(files.checkout("demo")) == {}


def test_another_host_reads_the_same_files_and_sees_each_change(files_for: FilesFor, tmp_path: Path) -> None:
    a, b = files_for(tmp_path / "a"), files_for(tmp_path / "b")
    a.apply("demo", [("app.py", b"A = 1\n"), ("lib/util.py", b"U = 1\n")], [])
    assert tree(b.checkout("demo")) == {"app.py": b"A = 1\n", "lib/util.py": b"U = 1\n"}
    a.apply("demo", [("app.py", b"A = 2\n")], ["lib/util.py"])
    assert tree(b.checkout("demo")) == {"app.py": b"A = 2\n"}
    assert b.sizes("demo") == a.sizes("demo") == {"app.py": 6}
