"""Ignore rules give git's answer: the walker is compared with real `git check-ignore` and
`git ls-files --others --exclude-standard` on whitelist-style, nested and random ignore files."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from prism.ingest.ignore import parse_pattern
from prism.ingest.walk import walk

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture(autouse=True)
def clean_git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user or system git config: HOME and XDG_CONFIG_HOME point into tmp_path."""
    home = tmp_path / "home"
    (home / "xdg").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)
    return home


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return root


def git_admitted(root: Path) -> list[str]:
    """Files git would track (untracked, not ignored), minus the ignore files themselves."""
    done = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "-z"], cwd=root,
                          capture_output=True, text=True, check=True)
    names = [p for p in done.stdout.split("\0") if p]
    return sorted(p for p in names if p.rsplit("/", 1)[-1] not in (".gitignore", ".prismignore"))


def git_check_ignored(root: Path, paths: list[str]) -> set[str]:
    done = subprocess.run(["git", "check-ignore", "--stdin", "-z"], cwd=root, input="\0".join(paths),
                          capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    return {p for p in done.stdout.split("\0") if p}


def prism_admitted(root: Path) -> list[str]:
    return [f.path for f in walk(root)]


def assert_same_as_git(root: Path, files: list[str]) -> list[str]:
    admitted = prism_admitted(root)
    assert admitted == git_admitted(root)
    candidates = [f for f in files if f.rsplit("/", 1)[-1] != ".gitignore"]
    ignored = git_check_ignored(root, candidates)
    assert sorted(set(candidates) - ignored) == admitted
    return admitted


def test_whitelist_gitignore_keeps_every_file_with_an_extension(tmp_path: Path) -> None:
    # go-zero's .gitignore: ignore all, re-include files with an extension and every folder.
    files = {".gitignore": "*\n!*.*\n!*/\n", "README.md": "# r\n", "LICENSE": "MIT\n",
             "rest/engine.go": "package rest\n", "rest/Makefile": "all:\n",
             "core/logx/logs.go": "package logx\n", "core/logx/bin/tool": "x\n"}
    root = make_repo(tmp_path / "repo", files)
    admitted = assert_same_as_git(root, list(files))
    assert "rest/engine.go" in admitted and "core/logx/logs.go" in admitted
    assert "rest/Makefile" not in admitted and "LICENSE" not in admitted


def test_a_file_inside_an_excluded_folder_cannot_be_re_included(tmp_path: Path) -> None:
    files = {".gitignore": "build/\n!build/keep.py\nout/*\n!out/keep.py\nlogs\n!logs/a.py\n",
             "build/keep.py": "", "build/x.py": "", "out/keep.py": "", "out/x.py": "",
             "logs/a.py": "", "main.py": ""}
    root = make_repo(tmp_path / "repo", files)
    assert assert_same_as_git(root, list(files)) == ["main.py", "out/keep.py"]


def test_nested_gitignores_override_their_parents(tmp_path: Path) -> None:
    files = {".gitignore": "*\n!*/\n!*.py\n*.gen.py\n", "a/x.py": "", "a/x.gen.py": "", "a/y.txt": "",
             "a/.gitignore": "!*.txt\n!keep.gen.py\n/local.py\n", "a/keep.gen.py": "",
             "a/local.py": "", "a/b/local.py": "", "a/b/z.txt": "",
             "a/b/.gitignore": "*\n!*/\n", "a/b/c/deep.py": "", "top.txt": ""}
    root = make_repo(tmp_path / "repo", files)
    assert_same_as_git(root, list(files))


def test_double_star_classes_escapes_and_anchors(tmp_path: Path) -> None:
    ignore = ("**/gen/**\n!**/gen/keep/\n!**/gen/keep/**\na/**/b.py\n/root_only.py\n"
              "file[0-9].py\nx?.py\n\\#hash.py\nspace.py \n[!a-m]*.md\ndoc/[[:upper:]]*.md\n")
    files = {".gitignore": ignore, "gen/x.py": "", "src/gen/y.py": "", "src/gen/keep/z.py": "",
             "a/b.py": "", "a/q/r/b.py": "", "c/a/b.py": "", "root_only.py": "", "sub/root_only.py": "",
             "file1.py": "", "filex.py": "", "xy.py": "", "xyz.py": "", "#hash.py": "", "space.py": "",
             "notes.md": "", "alpha.md": "", "doc/Zed.md": "", "doc/abc.md": ""}
    root = make_repo(tmp_path / "repo", files)
    assert_same_as_git(root, list(files))


def test_info_exclude_and_global_excludes_file_apply(tmp_path: Path, clean_git_env: Path) -> None:
    files = {"a.py": "", "private.py": "", "scratch/n.py": "", "notes.tmp": "", ".gitignore": "!keep.tmp\n",
             "keep.tmp": ""}
    root = make_repo(tmp_path / "repo", files)
    (root / ".git" / "info" / "exclude").write_text("private.py\n")
    (clean_git_env / "xdg" / "git").mkdir(parents=True)
    (clean_git_env / "xdg" / "git" / "ignore").write_text("*.tmp\nscratch/\n")
    assert assert_same_as_git(root, list(files)) == ["a.py", "keep.tmp"]
    # core.excludesFile, when set, replaces the default location
    other = tmp_path / "global-ignore"
    other.write_text("a.py\n")
    subprocess.run(["git", "config", "--global", "core.excludesFile", str(other)], check=True)
    assert assert_same_as_git(root, list(files)) == ["keep.tmp", "notes.tmp", "scratch/n.py"]


def test_project_inside_a_repository_sees_the_ignore_files_above_it(tmp_path: Path) -> None:
    files = {".gitignore": "pkg/*.log\n*.tmp\n", "pkg/a.py": "", "pkg/b.log": "", "pkg/c.tmp": ""}
    root = make_repo(tmp_path / "repo", files)
    (root / ".git" / "info" / "exclude").write_text("pkg/secret.py\n")
    (root / "pkg" / "secret.py").write_text("")
    assert prism_admitted(root / "pkg") == ["a.py"]


# Random trees and rules, each compared with git: whatever git answers, the walker must too.
# (Folder names avoid those the walker always skips, such as build/.)
NAMES = ["a", "b", "src", "lib", "x.py", "y.go", "Makefile", "z.md", "t.txt"]
PATTERNS = ["*", "!*", "*.py", "!*.py", "!*/", "*/", "lib/", "!lib/", "/a", "a/", "src/**",
            "!src/**", "**/b", "!**/b", "a/*", "!a/x.py", "*.md", "!z.md", "b/*.go", "!*.*", "?.py",
            "[xy].*", "**/src/*.txt", "lib", "!lib/x.py"]


def random_tree(rng: random.Random) -> dict[str, str]:
    files: dict[str, str] = {}
    for _ in range(rng.randint(4, 14)):
        depth = rng.randint(0, 3)
        dirs = [rng.choice(["a", "b", "src", "lib"]) for _ in range(depth)]
        files["/".join([*dirs, rng.choice(NAMES[4:])])] = ""
    folders = {"", *("/".join(p.split("/")[:i]) + "/" for p in files for i in range(1, p.count("/") + 1))}
    for folder in rng.sample(sorted(folders), k=min(len(folders), rng.randint(1, 3))):
        files[folder + ".gitignore"] = "\n".join(rng.choices(PATTERNS, k=rng.randint(1, 5))) + "\n"
    return files


@pytest.mark.parametrize("seed", range(40))
def test_random_ignore_files_agree_with_git(tmp_path: Path, seed: int) -> None:
    files = random_tree(random.Random(seed))
    root = make_repo(tmp_path / "repo", files)
    assert_same_as_git(root, list(files))


def test_comments_blank_lines_and_escapes_parse_like_git() -> None:
    assert parse_pattern("# comment") is None and parse_pattern("   ") is None
    assert parse_pattern("\\#x") is not None and parse_pattern("!x") is not None
    pattern = parse_pattern("a\\ ")
    assert pattern is not None and pattern.matches("a ", False)
    unterminated = parse_pattern("[abc")
    assert unterminated is not None and not unterminated.matches("[abc", False)
