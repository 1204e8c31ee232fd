"""Layout: a file named like a folder (or inside a file) is refused, and a folder freed by deletions is free."""

from __future__ import annotations

from prism.serve.http.uploads import FILE_IN_THE_WAY, FOLDER_IN_THE_WAY, Layout


def test_a_path_conflicts_with_a_file_on_its_way_or_a_folder_of_its_name() -> None:
    layout = Layout(["a/b/c.py", "a/d.py", "top.py"])
    assert layout.conflict("a") == FOLDER_IN_THE_WAY and layout.conflict("a/b") == FOLDER_IN_THE_WAY
    assert layout.conflict("top.py/x.py") == FILE_IN_THE_WAY and layout.conflict("a/d.py/e/f") == FILE_IN_THE_WAY
    assert layout.conflict("a/b/c.py") is None  # the same file again: a rewrite, not a conflict
    assert layout.conflict("a/bb.py") is None and layout.conflict("ab") is None


def test_removing_the_last_file_of_a_folder_frees_its_name() -> None:
    layout = Layout(["a/b/c.py", "a/b/d.py"])
    layout.remove("a/b/c.py")
    assert layout.conflict("a/b") == FOLDER_IN_THE_WAY  # d.py is still there
    layout.remove("a/b/d.py")
    layout.remove("a/b/d.py")  # twice: no effect
    assert layout.conflict("a/b") is None and layout.conflict("a") is None
    layout.add("a")
    assert layout.conflict("a/x.py") == FILE_IN_THE_WAY
