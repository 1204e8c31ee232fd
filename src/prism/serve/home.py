"""The server's part of PRISM_HOME (PRISM_HOME/server) is private: folders 0700, files 0600.

It holds the key database, the development secret, uploaded code and its indexes. `prism serve`
sets the umask PRIVATE_UMASK, so everything it creates (SQLite's -wal and -shm files, index
folders, lock files) is private; the helpers here create the first files privately for every
other caller too (the `prism keys` CLI, an app mounted in-process), and `tighten` fixes what an
older version left readable by others.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("prism.http")
PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 folders (existing ones are left as they are)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another worker made it first
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode passes through the umask
    return path


def create_private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 unless it exists (SQLite gives its -wal and -shm files
    the mode of the database file, so a private database stays private)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    return path


def tighten(folder: Path) -> int:
    """Remove group and other access from everything under `folder` that this user owns.

    Safe to run at every start: links are neither followed nor changed, and files of other
    owners are left alone. Returns how many modes it changed.
    """
    if not folder.is_dir():
        return 0
    uid = os.getuid()
    changed = 0
    for path in _walk(folder):
        info = os.lstat(path)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode) or info.st_uid != uid or not mode & 0o077:
            continue
        os.chmod(path, mode & ~0o077)
        changed += 1
    if changed:
        log.warning("made %d files and folders under %s private (they were readable by others)", changed, folder)
    return changed


def _walk(folder: Path) -> Iterator[str]:
    """`folder` and every path below it, without following links."""
    yield str(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in (*dirnames, *filenames):
            yield os.path.join(dirpath, name)
