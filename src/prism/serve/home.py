"""The server's part of PRISM_HOME (PRISM_HOME/server) is private: folders 0700, files 0600.

It holds the key database, the development secret, uploaded code and its indexes. `prism serve`
sets the umask PRIVATE_UMASK, so everything it creates (SQLite's -wal and -shm files, index
folders, lock files) is private; `prism.private_files` creates the first files privately for every
other caller too (the `prism keys` CLI, an app mounted in-process), and `tighten` fixes what an
older version left readable by others.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from prism.private_files import DIR_MODE, FILE_MODE, create_private_file, private_dir

__all__ = ["DIR_MODE", "FILE_MODE", "PRIVATE_UMASK", "create_private_file", "private_dir", "tighten"]

log = logging.getLogger("prism.http")
PRIVATE_UMASK = 0o077


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
