"""Index runs finished in this process, announced to whoever listens (the server's Prometheus metrics).

The engine's `index()` is the one place every index run in a process goes through (an upload
request, an index job on the server's worker thread, `prism index`); it calls `index_finished`.
Listeners are held weakly, so an app that is dropped (tests build many) stops listening.
A leaf module (standard library only): the engine imports it at no cost.
"""

from __future__ import annotations

import weakref
from typing import Protocol


class IndexListener(Protocol):
    def observe_index(self, files: int, chunks: int, tokens: int, seconds: float) -> None: ...


_listeners: weakref.WeakSet[IndexListener] = weakref.WeakSet()


def listen(listener: IndexListener) -> None:
    _listeners.add(listener)


def index_finished(files: int, chunks: int, tokens: int, seconds: float) -> None:
    """One index run wrote `files` files, `chunks` chunks holding `tokens` tokens, in `seconds`."""
    for listener in list(_listeners):
        listener.observe_index(files, chunks, tokens, seconds)
