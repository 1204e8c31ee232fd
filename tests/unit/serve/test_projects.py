"""Upload path validation: relative, no `..`, no absolute or drive paths, no NUL, '/'-normalised."""

from __future__ import annotations

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
