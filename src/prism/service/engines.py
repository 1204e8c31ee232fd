"""ProjectEngines: a process's open engine per project, all built from one set of shared parts.

A server answers many projects; opening a project's engine (its store, its searcher) on every
request would cost more than the request. Each engine is kept under the project's name with
the *incarnation* it was opened for (the project record's creation time): a project deleted
and created again under the same name, by this process or another replica, has a new
incarnation, and the engine of the old one is closed rather than left reading a deleted index.
Every engine shares the settings, one embedder (loaded once, on first use) and one result
cache (a Redis one is shared with the other replicas too). The HTTP layer (serve/http/projects.py)
says which project and incarnation it needs; this holds no knowledge of records or uploads.
"""

from __future__ import annotations

import threading
from pathlib import Path

from prism.cache import Cache, MemoryCache
from prism.config import Settings
from prism.engine import Prism
from prism.index.embed import Embedder, load_embedder


class ProjectEngines:
    """The open engine of each project, keyed by name and incarnation; thread-safe."""

    def __init__(self, settings: Settings, cache: Cache | None = None) -> None:
        self.settings = settings
        self.cache: Cache = cache if cache is not None else MemoryCache()  # every project's engine shares it
        self._engines: dict[str, tuple[float, Prism]] = {}  # name → (incarnation, engine)
        self._guard = threading.Lock()
        self._embedder: Embedder | None = None
        self._embedder_guard = threading.Lock()  # a model load must not block engine lookups

    def embedder(self) -> Embedder:
        """The one embedder every engine uses, loaded on first call."""
        with self._embedder_guard:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings.embedder, threads=self.settings.threads)
            return self._embedder

    def get(self, name: str, incarnation: float, root: Path, index_dir: Path) -> Prism:
        """The engine of `name` as of `incarnation`: the open one, or a new one (an older one is closed)."""
        self.evict(name, incarnation)
        with self._guard:
            cached = self._engines.get(name)
        if cached is None:
            engine = Prism(root, settings=self.settings, index_dir=index_dir, embedder=self.embedder(),
                           cache=self.cache)
            with self._guard:
                cached = self._engines.setdefault(name, (incarnation, engine))
            if cached[1] is not engine:  # another thread opened it meanwhile: keep one
                engine.close()
        return cached[1]

    def evict(self, name: str, keep: float | None = None) -> None:
        """Close the engine of `name` unless it was opened for incarnation `keep`."""
        with self._guard:
            cached = self._engines.get(name)
            if cached is None or cached[0] == keep:
                return
            del self._engines[name]
        cached[1].close()

    def close(self) -> None:
        with self._guard:
            engines, self._engines = [engine for _, engine in self._engines.values()], {}
        for engine in engines:
            engine.close()
