"""A PostgreSQL + pgvector for benchmarks: the URL given, else a pgserver (16.2 + pgvector 0.6.2) in /tmp.

    with postgres("postgresql://…") as url: …        # a server that already runs
    with postgres(None) as url: …                    # a throwaway one in a temporary folder
    with postgres("pgserver") as url: …              # one kept in /tmp/prism-bench-pg between runs
    with postgres("pgserver:/tmp/my-pg") as url: …   # one kept in a folder of your own

A kept server's data stays between runs, so a second eval over the same repositories updates
its indexes incrementally, as the SQLite eval cache does.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KEPT = Path("/tmp/prism-bench-pg")


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url and not url.startswith("pgserver"):
        yield url
        return
    with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver
    keep = bool(url and url.startswith("pgserver"))
    own = url.partition(":")[2] if url else ""
    folder = (Path(own) if own else KEPT) if keep else Path(tempfile.mkdtemp(prefix="prism-bench-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(folder / "pgdata", cleanup_mode="stop" if keep else "delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
