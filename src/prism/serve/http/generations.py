"""FileGenerations: the embedded server store's per-project index generations and writer locks, as files.

PRISM_HOME/server/state/<name>.json holds a project's last begun and last completed generation
and its phase, replaced atomically; <name>.lock is the writer lock every worker process on the
host honours (released by the OS when its holder dies, which is how an interrupted generation
is told from one in progress). PostgreSQL keeps the same in its projects table and an advisory
lock instead (server_postgres.py). A state is a (started, completed, phase) tuple; `generation`
records one run (an index request, an index job) the same way whichever store holds it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import filelock

from prism.serve.home import FILE_MODE, private_dir

GenerationRow = tuple[int, int, str]  # started, completed, phase
TEMP_SUFFIX = ".prism-upload"


class GenerationStore(Protocol):
    def index_state(self, name: str) -> GenerationRow | None: ...

    def set_index_state(self, name: str, state: GenerationRow) -> None: ...


@contextlib.contextmanager
def generation(store: GenerationStore, name: str, phase: str,
               last: GenerationRow | None = None) -> Iterator[Callable[[str], None]]:
    """Record one generation of `name`'s index, begun in `phase` after `last` (default: the stored
    state), marked `ready` when the block ends and `failed` when it raises; yields a setter for
    the phase in between. Hold the project's writer lock around it."""
    started, completed, _ = last or store.index_state(name) or (0, 0, "new")
    started += 1
    store.set_index_state(name, (started, completed, phase))
    try:
        yield lambda now: store.set_index_state(name, (started, completed, now))
    except BaseException:
        store.set_index_state(name, (started, completed, "failed"))
        raise
    store.set_index_state(name, (started, started, "ready"))


class FileGenerations:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _state_path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def lock_path(self, name: str) -> Path:
        return self.folder / f"{name}.lock"

    def read(self, name: str) -> GenerationRow | None:
        try:
            data = json.loads(self._state_path(name).read_text(encoding="utf-8"))
            return int(data["started"]), int(data["completed"]), str(data["phase"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, name: str, state: GenerationRow) -> None:
        """Replace the state file atomically (a crash leaves the old state or the new, never half)."""
        private_dir(self.folder)
        started, completed, phase = state
        replace_atomically(self._state_path(name),
                           json.dumps({"started": started, "completed": completed, "phase": phase}).encode())

    def forget(self, name: str) -> None:
        self._state_path(name).unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, name: str, wait_s: float) -> Iterator[bool]:
        """Hold the project's writer lock (True), or say it stayed held by another for `wait_s` (False)."""
        private_dir(self.folder)
        lock = filelock.FileLock(str(self.lock_path(name)), timeout=wait_s, mode=FILE_MODE)
        try:
            lock.acquire()
        except filelock.Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()


def replace_atomically(target: Path, data: bytes) -> None:
    """Write a private (0600) temp file beside `target` and rename it into place; on any failure
    the temp file is removed, so a failed write leaves nothing behind."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
