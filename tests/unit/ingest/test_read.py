"""Unit tests for prism.ingest.read: a read serves only what the index would admit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prism.errors import NotFoundError, PathError
from prism.ingest.read import read_project_file
from prism.ingest.walk import WalkOptions, walk

OPTIONS = WalkOptions()
Hostile = tuple[Path, tuple[str, ...], tuple[str, ...]]


def test_an_indexable_file_is_read_with_its_bom_dropped(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"\xef\xbb\xbfx = 1\n")
    assert read_project_file(tmp_path, "a.py", OPTIONS) == "x = 1\n"
    assert read_project_file(tmp_path, "./a.py", OPTIONS) == "x = 1\n"


@pytest.mark.timeout(20)  # the FIFO hung the old reader forever; /dev/zero filled its memory
def test_every_hostile_read_is_refused_and_names_why(hostile_repo: Hostile) -> None:
    root, refused, secrets = hostile_repo
    why = {}
    for target in refused:
        path = target.rsplit(":", 1)[0]
        with pytest.raises(PathError) as caught:
            read_project_file(root, path, OPTIONS)
        why[path] = caught.value.message
        assert not any(secret in str(caught.value) for secret in secrets)
    assert "outside the project root" in why["weird/outside/shadow"]
    assert "outside the project root" in why["zero.py"]
    assert "not a regular file" in why["pipe.py"]
    assert "ignored" in why[".env"] and "ignored" in why["alias.py"] and "ignored" in why[".git/config"]
    assert "ignored" in why["stuff/config"]
    assert "larger than the indexing limit" in why["big.py"]
    assert "binary" in why["blob.py"]
    assert read_project_file(root, "src/app.py", OPTIONS).startswith("def served")


def test_the_reader_admits_exactly_what_the_walker_indexes(hostile_repo: Hostile) -> None:
    root = hostile_repo[0]
    indexed = {source.path for source in walk(root, OPTIONS)}
    assert indexed == {"src/app.py"}
    for dirpath, _dirs, files in os.walk(root, followlinks=True):
        for name in files:
            rel = Path(dirpath, name).relative_to(root).as_posix()
            try:
                read_project_file(root, rel, OPTIONS)
            except PathError:
                assert rel not in indexed
            else:
                assert rel in indexed


def test_prismignore_data_and_generated_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / ".prismignore").write_text("secret/\n")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "keys.py").write_text("KEY = 1\n")
    (tmp_path / "server.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    (tmp_path / "yarn.lock").write_text("lock\n")
    for path in ("secret/keys.py", "server.key", "yarn.lock"):
        with pytest.raises(PathError):
            read_project_file(tmp_path, path, OPTIONS)


def test_the_size_limit_is_the_one_given(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x" * 100)
    with pytest.raises(PathError, match="larger than"):
        read_project_file(tmp_path, "a.py", WalkOptions(max_file_bytes=50))
    assert len(read_project_file(tmp_path, "a.py", WalkOptions(max_file_bytes=100))) == 100


def test_missing_and_escaping_paths(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_project_file(tmp_path, "nope.py", OPTIONS)
    for bad in ("../x.py", "/etc/passwd", ""):
        with pytest.raises(PathError):
            read_project_file(tmp_path, bad, OPTIONS)


def test_a_credentials_file_no_ignore_file_lists_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_KEY=secret-env\n")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    for path in (".env", "deploy/id_rsa"):
        with pytest.raises(PathError) as caught:
            read_project_file(tmp_path, path, OPTIONS)
        assert "credentials" in caught.value.message and "secret-env" not in str(caught.value)
