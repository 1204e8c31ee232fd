"""Private files under PRISM_HOME: folders 0700, files 0600, whatever the umask.

An index holds the code of the project it was made from and what people asked about it;
nobody but its owner should read it. SQLite gives its -wal and -shm files the mode of the
database file, so a database created private stays private.
"""

from __future__ import annotations

import os
from pathlib import Path

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
