"""The whole-file lexical baseline the pack stage states: files ranked by their best chunk, with sizes."""

from __future__ import annotations

import threading

from prism.index.store import LexicalIndex
from prism.index.terms import lexical_terms


def distinct_terms(text: str, max_terms: int = 64) -> list[str]:
    """The distinct lexical terms of free text, in order, at most max_terms ("" and 1-letter dropped)."""
    seen: list[str] = []
    for term in lexical_terms(text):
        if len(term) > 1 and term not in seen:
            seen.append(term)
        if len(seen) >= max_terms:
            break
    return seen


class FileRanking:
    """Files ranked by their best full-text chunk, with their sizes: the whole-file baseline's input.

    Runs in a thread started at construction: the store answers it on a connection of its own
    (SQLite releases the GIL while the query runs), so on a second core it overlaps the search
    and the packing instead of adding ~100-400 ms to them on a large index. `result()` waits.
    """

    def __init__(self, store: LexicalIndex, query: str, limit: int = 300) -> None:
        self._terms = distinct_terms(query)
        self._limit = limit
        self._store = store
        self._ranked: dict[str, int] = {}
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="prism-file-ranking", daemon=True)
        if self._terms:
            self._thread.start()

    def _run(self) -> None:
        try:
            self._ranked = self._store.rank_files(self._terms, self._limit)
        except Exception as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> tuple[list[str], dict[str, int]]:
        """(paths best first, tokens of each path); raises what the query raised."""
        if not self._terms:
            return [], {}
        self._thread.join()
        if self._error is not None:
            raise self._error
        return list(self._ranked), self._ranked
