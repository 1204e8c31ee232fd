"""ProjectFiles: where an uploaded project's files live, and `FolderFiles`, the embedded one (a folder per project).

An uploaded project's files are written here, already validated (registry: safe relative
'/'-paths, UTF-8 text within the size limit), and read back through `checkout`: a folder on this
host that holds exactly the project's current files, which the engine indexes and reads with its
usual checks (inside the root, not ignored, a regular file, within size limits). The embedded
store is that folder itself (PRISM_HOME/server/files/<name>/); the PostgreSQL store
(files_postgres.py) keeps content-addressed blobs and a path manifest in the shared database and
makes `checkout` a local copy, brought up to date when another replica changed the files, so
every replica and `prism worker` reads the same files. Both pass tests/contract/test_project_files.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from prism.serve.home import private_dir
from prism.serve.http.generations import TEMP_SUFFIX, replace_atomically


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one uploaded file: written, unchanged, deleted, or failed with a reason."""

    path: str
    status: Literal["written", "unchanged", "deleted", "failed"]
    reason: str = ""


NO_SUCH_FILE = "no such file"
FOLDER_IN_THE_WAY = "cannot store the file: a folder of this name holds other files"
FILE_IN_THE_WAY = "cannot store the file: a file has the name of one of its folders"


class ProjectFiles(Protocol):
    """An uploaded project's files, by normalised '/'-path (see the module docstring)."""

    def sizes(self, project: str) -> dict[str, int]:
        """Each stored file's size in bytes, by path (for the quota)."""
        ...

    def apply(self, project: str, writes: list[tuple[str, bytes]], deletes: list[str]) -> list[FileOutcome]:
        """Write and delete files (unchanged content is not rewritten); one outcome per write, then per
        delete. A file that cannot be stored fails alone."""
        ...

    def checkout(self, project: str) -> Path:
        """A folder on this host holding exactly the project's current files."""
        ...

    def forget(self, project: str) -> None:
        """Remove every file of the project (and this host's copy)."""
        ...

    def discard(self, project: str) -> None:
        """Drop this host's copy of a project that is gone (deleted through another replica)."""
        ...


class Layout:
    """A project's file paths and the folders they imply, to refuse a file named like a folder (or
    inside a file) before it is stored, as a file system would."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.files: set[str] = set()
        self._folders: Counter[str] = Counter()
        for path in paths:
            self.add(path)

    @staticmethod
    def _parents(path: str) -> list[str]:
        parts = path.split("/")
        return ["/".join(parts[:i]) for i in range(1, len(parts))]

    def conflict(self, path: str) -> str | None:
        """Why `path` cannot be a file here, or None."""
        if path in self._folders:
            return FOLDER_IN_THE_WAY
        if any(parent in self.files for parent in self._parents(path)):
            return FILE_IN_THE_WAY
        return None

    def add(self, path: str) -> None:
        if path not in self.files:
            self.files.add(path)
            self._folders.update(self._parents(path))

    def remove(self, path: str) -> None:
        if path in self.files:
            self.files.discard(path)
            self._folders.subtract(self._parents(path))
            for parent in self._parents(path):
                if self._folders[parent] <= 0:
                    del self._folders[parent]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FolderFiles:
    """The embedded ProjectFiles: the folder `folder`/<project> is the store (PRISM_HOME/server/files)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _root(self, project: str) -> Path:
        return self.folder / project

    def sizes(self, project: str) -> dict[str, int]:
        return stored_sizes(self._root(project))

    def apply(self, project: str, writes: list[tuple[str, bytes]], deletes: list[str]) -> list[FileOutcome]:
        root = private_dir(self._root(project))
        return [*(self._write(root, rel, data) for rel, data in writes), *(self._delete(root, rel) for rel in deletes)]

    def checkout(self, project: str) -> Path:
        return private_dir(self._root(project))

    def forget(self, project: str) -> None:
        shutil.rmtree(self._root(project), ignore_errors=True)

    def discard(self, project: str) -> None:
        """Nothing: here the folder is the store, and deleting the project removed it."""

    @staticmethod
    def _write(root: Path, rel: str, data: bytes) -> FileOutcome:
        target = root / rel
        try:
            if target.is_file() and sha256(target.read_bytes()) == sha256(data):
                return FileOutcome(rel, "unchanged")
            private_dir(target.parent)
            replace_atomically(target, data)
        except IsADirectoryError:
            return FileOutcome(rel, "failed", FOLDER_IN_THE_WAY)
        except (FileExistsError, NotADirectoryError):
            return FileOutcome(rel, "failed", FILE_IN_THE_WAY)
        except (OSError, UnicodeError) as exc:
            return FileOutcome(rel, "failed", f"cannot store the file: {type(exc).__name__}")
        return FileOutcome(rel, "written")

    @staticmethod
    def _delete(root: Path, rel: str) -> FileOutcome:
        target = root / rel
        try:
            if not target.is_file():
                return FileOutcome(rel, "failed", NO_SUCH_FILE)
            target.unlink()
        except OSError as exc:
            return FileOutcome(rel, "failed", f"cannot delete the file: {type(exc).__name__}")
        for parent in target.relative_to(root).parents[:-1]:  # folders it leaves empty go too, as no file's
            try:
                (root / parent).rmdir()
            except OSError:
                break
        return FileOutcome(rel, "deleted")


def stored_sizes(root: Path) -> dict[str, int]:
    """Size of each file under `root` by '/'-path; temp files a killed process left are removed."""
    sizes: dict[str, int] = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            if name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                continue
            with contextlib.suppress(OSError):
                sizes[Path(path).relative_to(root).as_posix()] = os.lstat(path).st_size
    return sizes
