"""Read one project file for a user, serving only what the index would admit.

`prism show`, MCP `read_code` and `GET /code` all read through `read_project_file`. A
repository is untrusted input (a cloned project, a prompt-injected agent asking for files), so
a read must not reach what indexing deliberately leaves out:

* the path, with every link resolved, stays inside the root (`weird/outside -> /etc` is refused);
* the file is a regular file: a FIFO, socket or device is refused before it is opened, and the
  open itself is non-blocking and does not follow a link, so a file swapped in between cannot
  hang the reader;
* the walker admits both the path as given and the resolved path, with its own rules
  (`.gitignore`, `.prismignore`, `.git/info/exclude`, default-skipped folders such as `.git`,
  generated and data files): a link cannot launder an ignored file;
* at most `max_file_bytes` are read (`/dev/zero` cannot exhaust memory), and a NUL byte in the
  first 8 KiB makes the file binary, as for indexing.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from prism.errors import NotFoundError, PathError
from prism.ingest.walk import Skipped, WalkOptions, decode_source, is_binary, resolve_inside, walk

REFUSED = {  # walker skip reason -> why a read is refused
    "outside_root": "is a link that leads outside the project",
    "too_large": "is larger than the indexing limit (PRISM_MAX_FILE_BYTES)",
    "binary": "is a binary file",
    "data": "is a data file that PRISM does not index",
    "secret": "is named like a credentials file (.env, a private key) that PRISM does not index",
    "generated": "is a generated file (lockfile, bundle or source map) that PRISM does not index",
    "unreadable": "cannot be read",
    "symlink_loop": "lies in a symlink loop",
}
IGNORED = "is ignored (.gitignore, .prismignore or a folder PRISM never indexes)"
HINT = "PRISM reads only the files it would index; pick a file that `prism search` finds."
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def read_project_file(root: Path, path: str, options: WalkOptions) -> str:
    """The text of project file `path` (UTF-8, errors replaced, no BOM).

    Raises PathError when the index would not admit the file (the message says why) and
    NotFoundError when there is no such file.
    """
    full = resolve_inside(root, path)  # PathError: absolute, or escapes the root (`..`, a link)
    try:
        st = os.stat(full)  # `full` holds no link any more
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"No file {path!r} in the project.", hint="Check the path.", value=path) from None
    except OSError as exc:
        raise _refused(path, f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _refused(path, "is not a regular file")
    resolved = Path(os.path.relpath(full, os.path.realpath(root))).as_posix()
    given = Path(os.path.normpath(path)).as_posix()
    for rel in dict.fromkeys(p for p in (given, resolved) if not p.startswith("../")):
        _admit(root, rel, options)  # `resolved` too: a linked folder (`stuff -> .git`) must not launder
    data = _read_bounded(full, path, options.max_file_bytes)
    if len(data) > options.max_file_bytes:
        raise _refused(path, REFUSED["too_large"])
    if is_binary(data):
        raise _refused(path, REFUSED["binary"])
    return decode_source(data)


def _admit(root: Path, rel: str, options: WalkOptions) -> None:
    """Walk just the folders leading to `rel`: the walker yields it only if it would index it."""
    skipped: list[Skipped] = []
    found = next(walk(root, dataclasses.replace(options, only=rel), on_skip=skipped.append), None)
    if found is None:
        raise _refused(rel, REFUSED.get(skipped[-1].reason, IGNORED) if skipped else IGNORED)


def _read_bounded(full: Path, path: str, max_bytes: int) -> bytes:
    try:
        fd = os.open(full, _OPEN_FLAGS)
    except OSError as exc:
        raise _refused(path, f"cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since the check above
            raise _refused(path, "is not a regular file")
        return handle.read(max_bytes + 1)


def _refused(path: str, why: str) -> PathError:
    return PathError(f"{path!r} {why}.", hint=HINT, value=path)
