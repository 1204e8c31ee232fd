"""Keep an index fresh while files change: watch the tree, debounce, re-sync what changed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import watchfiles

from prism.engine import Prism
from prism.index.indexer import IndexReport

# Folders whose churn never matters to the index; the walker applies the full ignore rules.
_NOISE = {".git", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache",
          ".ruff_cache", ".tox", "dist", "build", ".prism"}


def _relevant(change: watchfiles.Change, path: str) -> bool:
    return not any(part in _NOISE for part in path.replace("\\", "/").split("/"))


def watch_project(prism: Prism, *, debounce_ms: int = 200,
                  stop: threading.Event | None = None) -> Iterator[IndexReport]:
    """Index once, then yield a report for every debounced burst of changes until `stop` is set.

    The sync after a change is cheap: unchanged files cost one stat each, and only the
    changed files are re-chunked and re-embedded.
    """
    yield prism.index()
    for _changes in watchfiles.watch(prism.root, watch_filter=_relevant, debounce=debounce_ms,
                                     step=50, stop_event=stop, raise_interrupt=False):
        yield prism.index()
