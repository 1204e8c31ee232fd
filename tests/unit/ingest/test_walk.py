"""Tests for prism.ingest.walk: ignore rules, default skips, limits, symlinks, reading."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

import pytest

from prism.errors import PathError
from prism.ingest import walk as walk_module
from prism.ingest.walk import Skipped, WalkOptions, is_binary, read_source, walk


def make(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body)


def paths(root: Path, options: WalkOptions | None = None) -> list[str]:
    return [f.path for f in walk(root, options or WalkOptions())]


def skips(root: Path, options: WalkOptions | None = None) -> tuple[list[str], list[Skipped]]:
    seen: list[Skipped] = []
    found = [f.path for f in walk(root, options or WalkOptions(), seen.append)]
    return found, seen


def test_sorted_relative_paths_and_languages(tmp_path: Path) -> None:
    make(tmp_path, {"b.py": "x = 1\n", "a/z.go": "package a\n", "a.md": "# t\n", "LICENSE": "MIT\n"})
    files = list(walk(tmp_path))
    assert [f.path for f in files] == ["LICENSE", "a.md", "a/z.go", "b.py"]
    assert [f.language for f in files] == [None, "markdown", "go", "python"]
    assert files[3].size == 6 and files[3].mtime > 0


def test_nested_gitignore_with_negation(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            ".gitignore": "*.out\nsecret/\n",
            "app.out": "x",
            "keep.py": "",
            "secret/a.py": "",
            "sub/.gitignore": "!important.out\n/local.py\n",
            "sub/important.out": "x",
            "sub/other.out": "x",
            "sub/local.py": "",
            "sub/deeper/local.py": "",
        },
    )
    assert paths(tmp_path) == ["keep.py", "sub/deeper/local.py", "sub/important.out"]


def test_prismignore_anywhere(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            ".prismignore": "generated/\n",
            "generated/x.py": "",
            "pkg/.prismignore": "*_pb2.py\n",
            "pkg/api_pb2.py": "",
            "pkg/api.py": "",
            "api_pb2.py": "",
        },
    )
    assert paths(tmp_path) == ["api_pb2.py", "pkg/api.py"]


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    make(tmp_path, {"src/a.py": "", "src/b.js": "", "docs/c.py": "", "src/gen/d.py": ""})
    assert paths(tmp_path, WalkOptions(include=("*.py",))) == [
        "docs/c.py",
        "src/a.py",
        "src/gen/d.py",
    ]
    assert paths(tmp_path, WalkOptions(exclude=("docs/", "gen"))) == ["src/a.py", "src/b.js"]
    assert paths(tmp_path, WalkOptions(include=("src/**",), exclude=("*.js",))) == [
        "src/a.py",
        "src/gen/d.py",
    ]


def test_default_skipped_directories(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"main.py": ""}
    for name in ("node_modules", ".git", "__pycache__", ".venv", "venv", "dist", "build",
                 ".mypy_cache", "target", ".idea", ".tox"):  # fmt: skip
        files[f"{name}/x.py"] = ""
    files["myenv/pyvenv.cfg"] = "home = /usr\n"
    files["myenv/lib/site.py"] = ""
    files["gopkg/go.mod"] = "module x\n"
    files["gopkg/vendor/dep/dep.go"] = "package dep\n"
    files["web/vendor/autoload.php"] = "<?php\n"
    files["js/vendor/lib.js"] = "var x;\n"  # not Go/PHP vendoring: kept
    make(tmp_path, files)
    assert paths(tmp_path) == ["gopkg/go.mod", "js/vendor/lib.js", "main.py"]


def test_size_binary_generated_skips_are_reported(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "big.py": "x" * 200,
            "small.py": "x",
            "blob.dat2": b"abc\0def",
            "logo.png": b"PNG",
            "package-lock.json": "{}",
            "app.min.js": "x",
            "ok.js": "x",
        },
    )
    found, seen = skips(tmp_path, WalkOptions(max_file_bytes=100))
    assert found == ["ok.js", "small.py"]
    assert sorted((s.path, s.reason) for s in seen) == [
        ("app.min.js", "generated"),
        ("big.py", "too_large"),
        ("blob.dat2", "binary"),
        ("logo.png", "binary"),
        ("package-lock.json", "generated"),
    ]


def test_is_binary() -> None:
    assert is_binary(b"a\0b")
    assert not is_binary("héllo".encode())
    assert not is_binary(b"x" * 9000 + b"\0")  # only the first 8 KiB are sniffed


def test_symlinks_inside_followed_loops_and_escapes_reported(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    make(root, {"pkg/a.py": "", "pkg/sub/b.py": ""})
    make(outside, {"secret.py": ""})
    (root / "link.py").symlink_to(root / "pkg" / "a.py")
    (root / "pkg" / "sub" / "loop").symlink_to(root / "pkg")
    (root / "alias").symlink_to(root / "pkg" / "sub")
    (root / "escape").symlink_to(outside)
    (root / "escape.py").symlink_to(outside / "secret.py")
    (root / "dangling.py").symlink_to(root / "missing.py")
    found, seen = skips(root)
    # alias -> pkg/sub, whose "loop" leads back up to pkg: followed once, then cut.
    assert found == ["alias/b.py", "alias/loop/a.py", "link.py", "pkg/a.py", "pkg/sub/b.py"]
    reasons = {s.path: s.reason for s in seen}
    assert reasons["alias/loop/sub"] == "symlink_loop"
    assert reasons["escape"] == "outside_root"
    assert reasons["escape.py"] == "outside_root"
    assert reasons["pkg/sub/loop"] == "symlink_loop"
    assert reasons["dangling.py"] == "unreadable"


def test_self_loop_symlink(tmp_path: Path) -> None:
    make(tmp_path, {"a.py": ""})
    (tmp_path / "me").symlink_to(tmp_path)
    found, seen = skips(tmp_path)
    assert found == ["a.py"]
    assert seen == [Skipped("me", "symlink_loop")]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read mode 000 files")
def test_permission_denied_file_real(tmp_path: Path) -> None:
    make(tmp_path, {"a.py": "", "locked.py": "x"})
    (tmp_path / "locked.py").chmod(0)
    try:
        found, seen = skips(tmp_path)
    finally:
        (tmp_path / "locked.py").chmod(0o644)
    assert found == ["a.py"]
    assert seen == [Skipped("locked.py", "unreadable")]


def test_permission_denied_file_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, {"a.py": "", "locked.py": "x"})
    real_open = builtins.open

    def fake_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("locked.py"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(walk_module, "open", fake_open, raising=False)
    found, seen = skips(tmp_path)
    assert found == ["a.py"]
    assert seen == [Skipped("locked.py", "unreadable")]


def test_unreadable_directory_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, {"a.py": "", "closed/b.py": ""})
    real_scandir = os.scandir

    def fake_scandir(path: Any) -> Any:
        if str(path).endswith("closed"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr("prism.ingest.walk.os.scandir", fake_scandir)
    found, seen = skips(tmp_path)
    assert found == ["a.py"]
    assert seen == [Skipped("closed", "unreadable")]


def test_read_source_strips_bom_and_replaces_invalid_utf8(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbfx = '\xff'\n"
    make(tmp_path, {"a.py": raw})
    data, text = read_source(tmp_path, "a.py")
    assert data == raw
    assert text == "x = '\ufffd'\n"


@pytest.mark.parametrize("bad", ["../x.py", "/etc/passwd", "a/../../x", "", "a\0b"])
def test_read_source_rejects_paths_outside_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PathError) as info:
        read_source(tmp_path, bad)
    assert info.value.hint


def test_read_source_rejects_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make(tmp_path, {"outside.py": "secret"})
    root.mkdir()
    (root / "link.py").symlink_to(tmp_path / "outside.py")
    with pytest.raises(PathError, match="outside the project root"):
        read_source(root, "link.py")


def test_walk_5000_files_under_nested_ignores(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\n!keep.log\nout/\n")
    for d in range(50):
        sub = tmp_path / f"pkg{d}" / "mod"
        sub.mkdir(parents=True)
        (sub / ".gitignore").write_text("*.tmp\n")
        for i in range(100):
            (sub / f"file{i}.py").write_text("x = 1\n")
    # Speed is measured in benchmarks/index_speed.py, not asserted here.
    assert sum(1 for _ in walk(tmp_path)) == 5000


def test_data_files_are_skipped_unless_included(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "nb.ipynb").write_text('{"cells": []}')
    (tmp_path / "main.py").write_text("x = 1\n")
    skipped: list[Skipped] = []
    paths = [f.path for f in walk(tmp_path, WalkOptions(), on_skip=skipped.append)]
    assert paths == ["main.py"]
    assert {s.path: s.reason for s in skipped} == {"data/table.csv": "data", "nb.ipynb": "data"}
    included = [f.path for f in walk(tmp_path, WalkOptions(include=("*.csv",)))]
    assert included == ["data/table.csv"]


def test_credential_files_are_skipped_without_any_ignore_file(tmp_path: Path) -> None:
    # An uploaded tree often carries no .gitignore: a .env must not be indexed (or served) for lack of one.
    for name in (".env", ".env.local", ".env.production", "id_rsa", "id_ed25519", ".netrc", ".pgpass",
                 ".npmrc", "release.p12", "app.keystore", "credentials.json"):
        (tmp_path / name).write_text("TOKEN=hunter2\n")
    for name in (".env.example", ".env.sample", "id_rsa.pub", "env.py", "credentials.py", "main.py"):
        (tmp_path / name).write_text("x = 1\n")
    skipped: list[Skipped] = []
    paths = {f.path for f in walk(tmp_path, WalkOptions(), on_skip=skipped.append)}
    assert paths == {".env.example", ".env.sample", "id_rsa.pub", "env.py", "credentials.py", "main.py"}
    assert {s.reason for s in skipped} == {"secret"} and len(skipped) == 11
    assert [f.path for f in walk(tmp_path, WalkOptions(include=(".env",)))] == [".env"]
