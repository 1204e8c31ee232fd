"""ProjectEngines: one open engine per project and incarnation, sharing one embedder and one cache."""

from __future__ import annotations

import threading
from pathlib import Path

from prism.cache import MemoryCache
from prism.config import Settings
from prism.service.engines import ProjectEngines


def folders(tmp_path: Path, name: str) -> tuple[Path, Path]:
    root = tmp_path / name
    root.mkdir()
    (root / "app.py").write_text("def refresh_token(session):\n    return session.token\n")
    return root, tmp_path / "indexes" / name


def test_an_engine_is_kept_per_incarnation_and_shares_the_parts(tmp_path: Path) -> None:
    cache = MemoryCache()
    engines = ProjectEngines(Settings(home=tmp_path / "home", embedder="hashing"), cache)
    alpha, beta = folders(tmp_path, "alpha"), folders(tmp_path, "beta")
    first = engines.get("alpha", 1.0, *alpha)
    assert engines.get("alpha", 1.0, *alpha) is first
    other = engines.get("beta", 5.0, *beta)
    assert other is not first and other.cache is first.cache is cache is engines.cache
    assert first.embedder is other.embedder is engines.embedder()
    first.index()
    assert first.search("refresh token").hits

    again = engines.get("alpha", 2.0, *alpha)  # deleted and created again (here or on another replica)
    assert again is not first and first._store is None  # the old incarnation's engine was closed
    engines.evict("alpha", keep=2.0)
    assert engines.get("alpha", 2.0, *alpha) is again  # evicting all but the current keeps it
    engines.evict("alpha")
    assert engines.get("alpha", 2.0, *alpha) is not again
    assert other.store.count_chunks() == 0  # opened
    engines.close()
    assert other._store is None  # and closed with the rest


def test_concurrent_first_requests_open_one_engine(tmp_path: Path) -> None:
    engines = ProjectEngines(Settings(home=tmp_path / "home", embedder="hashing"))
    project = folders(tmp_path, "alpha")
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(engines.get("alpha", 1.0, *project))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8 and all(engine is got[0] for engine in got)
    engines.close()
