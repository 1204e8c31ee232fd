"""Contract suite for the chunk-embedding cache: the home's SQLite file and the PostgreSQL table keep vectors alike.

Every PostgreSQL test uses a model id of its own on the session's server, so tests never see
each other's rows (the table is shared by every project and host, by design).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from prism.config import Settings
from prism.errors import BackendUnavailableError, ConfigError
from prism.index.embed_cache import ChunkVectorCache, EmbeddingCache, open_embedding_cache
from services import free_port

Opener = Callable[[], ChunkVectorCache]


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the backend's cache anew on each call (a second host, or the same one later)."""
    opened: list[ChunkVectorCache] = []
    if request.param == "sqlite":
        settings = Settings(home=tmp_path / "home")
    else:
        settings = Settings(home=tmp_path / "home", database_url=request.getfixturevalue("postgres_url"))

    def make() -> ChunkVectorCache:
        cache = open_embedding_cache(settings)
        assert cache is not None
        opened.append(cache)
        return cache

    yield make
    for cache in opened:
        cache.close()


def vectors(n: int, dim: int = 8, seed: int = 0) -> list[np.ndarray]:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return list(rows / np.linalg.norm(rows, axis=1, keepdims=True))


def model() -> str:
    return f"contract-{uuid.uuid4().hex}"


def test_a_vector_comes_back_bit_for_bit_and_a_miss_is_left_out(opener: Opener) -> None:
    cache, name = opener(), model()
    assert cache.get(name, ["a", "b"]) == {}
    (va, vb) = vectors(2)
    cache.put(name, [("a", va), ("b", vb)])
    found = cache.get(name, ["a", "b", "missing"])
    assert sorted(found) == ["a", "b"]
    assert found["a"].dtype == np.float32 and found["a"].tobytes() == va.tobytes()
    assert found["b"].tobytes() == vb.tobytes()


def test_empty_batches_do_nothing(opener: Opener) -> None:
    cache, name = opener(), model()
    cache.put(name, [])
    assert cache.get(name, []) == {}


def test_models_keep_equal_hashes_apart(opener: Opener) -> None:
    cache, first, second = opener(), model(), model()
    one, two = vectors(2)
    cache.put(first, [("h", one)])
    cache.put(second, [("h", two)])
    assert cache.get(first, ["h"])["h"].tobytes() == one.tobytes()
    assert cache.get(second, ["h"])["h"].tobytes() == two.tobytes()


def test_a_kept_vector_is_not_replaced_and_repeats_in_a_batch_are_harmless(opener: Opener) -> None:
    cache, name = opener(), model()
    first, later = vectors(2)
    cache.put(name, [("h", first), ("h", first)])
    cache.put(name, [("h", later), ("new", later)])
    found = cache.get(name, ["h", "new"])
    assert found["h"].tobytes() == first.tobytes() and found["new"].tobytes() == later.tobytes()


def test_large_batches_round_trip(opener: Opener) -> None:
    cache, name = opener(), model()
    rows = vectors(2500, dim=384, seed=1)
    items = [(f"{i:064x}", v) for i, v in enumerate(rows)]
    cache.put(name, items)
    found = cache.get(name, [h for h, _ in items] + ["absent"])
    assert len(found) == len(items)
    assert all(found[h].tobytes() == v.tobytes() for h, v in items)


def test_what_one_opener_kept_another_finds(opener: Opener) -> None:
    """Another process (on the same home, or another host on the same database) sees the vectors."""
    name, (vector,) = model(), vectors(1)
    writer = opener()
    writer.put(name, [("shared", vector)])
    writer.close()
    assert opener().get(name, ["shared"])["shared"].tobytes() == vector.tobytes()


def test_the_settings_choose_the_cache(tmp_path: Path) -> None:
    off = Settings(home=tmp_path, shared_embedding_cache=False, database_url="postgresql://db.example/prism")
    assert open_embedding_cache(off) is None
    embedded = open_embedding_cache(Settings(home=tmp_path))
    assert isinstance(embedded, EmbeddingCache) and (tmp_path / "embeddings.db").is_file()
    embedded.close()


def test_postgres_connects_on_first_use_and_reports_an_unreachable_server(tmp_path: Path) -> None:
    from prism.index.embed_cache_postgres import PostgresEmbeddingCache

    with pytest.raises(ConfigError):
        PostgresEmbeddingCache("mysql://db.example/prism")
    cache = open_embedding_cache(Settings(home=tmp_path, database_url=f"postgresql://127.0.0.1:{free_port()}/x"))
    assert isinstance(cache, PostgresEmbeddingCache)  # opened without a server: nothing connects yet
    cache.put("m", [])
    with pytest.raises(BackendUnavailableError, match="cannot be reached"):
        cache.get("m", ["h"])
    cache.close()


def test_postgres_on_a_shared_pool_leaves_the_pool_open(postgres_url: str) -> None:
    from prism.index.embed_cache_postgres import PostgresEmbeddingCache
    from prism.index.postgres import open_pool

    pool = open_pool(postgres_url, max_size=2)
    try:
        cache, name, (vector,) = PostgresEmbeddingCache(pool), model(), vectors(1)
        cache.put(name, [("h", vector)])
        cache.close()
        assert not pool.closed
        assert PostgresEmbeddingCache(pool).get(name, ["h"])["h"].tobytes() == vector.tobytes()
    finally:
        pool.close()
