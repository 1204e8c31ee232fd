"""A bounded, thread-safe, process-wide LRU memo: the pack stage's rendered levels and block counts.

The same chunks come back for many queries in a warm process (an HTTP server, an MCP
session), and what is memoised depends only on the key, so entries are kept across calls.
Each entry has a weight (1 by default, or e.g. its approximate size in bytes); the least
recently used entries go once the total weight exceeds the limit. Values are computed
outside the lock: two threads may compute the same entry at once, and either result is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _one(key: object, value: object) -> int:
    return 1


class Memo(Generic[K, V]):
    """Least recently used entries out once the summed weight of the entries exceeds `limit`.

    `weigh` must depend on the key and value only (it is asked again when an entry leaves).
    """

    def __init__(self, limit: int, weigh: Callable[[K, V], int] = _one) -> None:
        self.limit = limit
        self._weigh = weigh
        self._data: OrderedDict[K, V] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        """Keep `value` (an entry heavier than the whole limit is not kept)."""
        weight = self._weigh(key, value)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._weight -= self._weigh(key, old)
            if weight > self.limit:
                return
            self._data[key] = value
            self._weight += weight
            while self._weight > self.limit:
                dropped = self._data.popitem(last=False)
                self._weight -= self._weigh(*dropped)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def weight(self) -> int:
        """The summed weight of the entries kept now (at most `limit`)."""
        return self._weight
