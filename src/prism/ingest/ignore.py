"""Git's ignore rules, matched exactly as git matches them (gitignore(5), git's wildmatch).

Patterns come from, lowest precedence first: the global excludes file (``core.excludesFile``,
default ``$XDG_CONFIG_HOME/git/ignore``), the repository's ``info/exclude``, the ``.gitignore``
and ``.prismignore`` files of the folders above the project inside its repository, then those
of each folder on the way down. The last pattern that matches a path decides. A path is judged
on its own: the walker never enters an ignored folder, which is git's rule that nothing inside
an excluded folder can be re-included, while ``*`` followed by ``!*/`` keeps folders walkable.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

POSIX_CLASSES = {
    "alnum": r"a-zA-Z0-9", "alpha": r"a-zA-Z", "blank": r" \t", "cntrl": r"\x00-\x1f\x7f",
    "digit": r"0-9", "graph": r"!-~", "lower": r"a-z", "print": r" -~", "punct": r"!-/:-@\[-`{-~",
    "space": r" \t\n\r\f\v", "upper": r"A-Z", "xdigit": r"0-9A-Fa-f",
}  # fmt: skip
NEVER = re.compile(r"(?!)")


@dataclass(frozen=True)
class IgnorePattern:
    """One line of an ignore file."""

    regex: re.Pattern[str]
    negate: bool  # "!pattern": re-include
    dir_only: bool  # "pattern/": folders only
    basename: bool  # no slash inside: matches the last path component at any depth

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        return self.regex.fullmatch(rel.rsplit("/", 1)[-1] if self.basename else rel) is not None


def _bracket(pattern: str, start: int) -> tuple[str, int] | None:
    """The regex for the bracket expression opening at ``start``, and the index after it."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    parts: list[str] = []
    first = True
    while i < len(pattern):
        char = pattern[i]
        if char == "]" and not first:
            body = "".join(parts)
            return (f"[^/{body}]" if negate else f"(?!/)[{body}]"), i + 1  # never '/' (WM_PATHNAME)
        first = False
        if char == "[" and pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            if end != -1 and pattern[i + 2 : end] in POSIX_CLASSES:
                parts.append(POSIX_CLASSES[pattern[i + 2 : end]])
                i = end + 2
                continue
        if char == "\\" and i + 1 < len(pattern):
            i += 1
            char = pattern[i]
        if char == "-" and parts and i + 1 < len(pattern) and pattern[i + 1] != "]":
            parts.append("-")
        else:
            parts.append(re.escape(char))
        i += 1
    return None  # unterminated: git's wildmatch then matches nothing


def _translate(pattern: str) -> re.Pattern[str]:
    """A wildmatch pattern (WM_PATHNAME: wildcards stop at '/', '**' spans folders) as a regex."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            at_start = i == 0 or pattern[i - 1] == "/"
            if j - i >= 2 and at_start and (j == n or pattern[j] == "/"):
                if j == n:
                    out.append(".*")  # "/**" at the end: everything inside
                else:
                    out.append("(?:.*/)?")  # "**/": zero or more folders
                    j += 1
            else:
                out.append("[^/]*")
            i = j
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            found = _bracket(pattern, i)
            if found is None:
                return NEVER
            out.append(found[0])
            i = found[1]
        elif char == "\\":
            if i + 1 < n:
                out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _strip_trailing_spaces(line: str) -> str:
    """Trailing spaces are dropped unless escaped with a backslash (gitignore(5))."""
    end = len(line)
    while end > 0 and line[end - 1] == " ":
        backslashes = 0
        k = end - 2
        while k >= 0 and line[k] == "\\":
            backslashes += 1
            k -= 1
        if backslashes % 2 == 1:
            break
        end -= 1
    return line[:end]


def parse_pattern(line: str) -> IgnorePattern | None:
    """One ignore-file line as a pattern; None for blank lines and comments."""
    line = _strip_trailing_spaces(line.rstrip("\r"))
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    if negate:
        line = line[1:]
    dir_only = line.endswith("/") and not line.endswith("\\/")
    if dir_only:
        line = line.rstrip("/")
    if not line:
        return None
    basename = "/" not in line
    if line.startswith("/"):
        line = line[1:]
    return IgnorePattern(_translate(line), negate, dir_only, basename)


def load_patterns(path: Path) -> tuple[IgnorePattern, ...]:
    """The patterns of an ignore file, in file order; empty when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().split("\n")
    except OSError:
        return ()
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return tuple(p for p in map(parse_pattern, lines) if p is not None)


@dataclass(frozen=True)
class PatternList:
    """The patterns of one source, with how to turn a project path into the path they see."""

    patterns: tuple[IgnorePattern, ...]
    prefix: str = ""  # the folder (inside the project, "a/b/") the ignore file sits in
    lead: str = ""  # for files above the project: the project's folder inside their base ("p/")

    def decide(self, rel: str, is_dir: bool) -> bool | None:
        """True ignored, False re-included, None no opinion (last matching pattern wins)."""
        if not rel.startswith(self.prefix):
            return None
        local = self.lead + rel[len(self.prefix) :]
        for pattern in reversed(self.patterns):
            if pattern.matches(local, is_dir):
                return not pattern.negate
        return None


@dataclass(frozen=True)
class IgnoreRules:
    """Every pattern list in force in one folder, lowest precedence first."""

    lists: tuple[PatternList, ...] = ()

    def ignored(self, rel: str, is_dir: bool = False) -> bool:
        for patterns in reversed(self.lists):
            decision = patterns.decide(rel, is_dir)
            if decision is not None:
                return decision
        return False

    def with_files(self, folder: Path, prefix: str, names: tuple[str, ...]) -> IgnoreRules:
        """These rules plus the ignore files ``names`` found in ``folder`` (project path ``prefix``)."""
        added = [PatternList(p, prefix) for p in (load_patterns(folder / n) for n in names) if p]
        return IgnoreRules((*self.lists, *added)) if added else self


def git_dir(work_tree: Path) -> Path | None:
    """The git directory shared by a work tree's worktrees (``.git``, or what a ``.git`` file names)."""
    dot_git = work_tree / ".git"
    if dot_git.is_dir():
        return dot_git
    try:
        text = dot_git.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    found = Path(text[len("gitdir:") :].strip())
    found = found if found.is_absolute() else work_tree / found
    try:  # a linked worktree keeps info/exclude in the common directory
        common = (found / "commondir").read_text(encoding="utf-8").strip()
        return (found / common).resolve() if common else found
    except OSError:
        return found


def global_excludes_file(cwd: Path) -> Path | None:
    """core.excludesFile as git reads it (`git config`), else $XDG_CONFIG_HOME/git/ignore."""
    try:
        done = subprocess.run(["git", "config", "--path", "--get", "core.excludesFile"], cwd=cwd,
                              capture_output=True, text=True, timeout=10, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip()).expanduser()
    except (OSError, subprocess.SubprocessError):
        pass  # no git installed: its default location still applies
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(xdg, "git", "ignore")


def base_rules(root: Path, names: tuple[str, ...]) -> IgnoreRules:
    """The rules in force at the project root, before its own ignore files are read."""
    repo = next((p for p in (root, *root.parents) if (p / ".git").exists()), None)
    lead = "" if repo is None else root.relative_to(repo).as_posix() + "/"
    lead = "" if lead == "./" else lead
    lists: list[PatternList] = []
    excludes = global_excludes_file(root)
    if excludes is not None:
        lists.append(PatternList(load_patterns(excludes), lead=lead))
    found = git_dir(repo) if repo is not None else None
    if found is not None:
        lists.append(PatternList(load_patterns(found / "info" / "exclude"), lead=lead))
    if repo is not None and repo != root:  # ignore files between the repository root and the project
        parts = root.relative_to(repo).parts
        for depth in range(len(parts)):
            folder = repo.joinpath(*parts[:depth])
            below = "/".join(parts[depth:]) + "/"
            lists.extend(PatternList(load_patterns(folder / n), lead=below) for n in names)
    return IgnoreRules(tuple(pl for pl in lists if pl.patterns))
