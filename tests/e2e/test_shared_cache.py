"""Two engines (replicas) on one PostgreSQL and one Redis share cached results and query vectors;
a re-index, a rebuilt index or feedback on either replica invalidates them; Redis down costs only the cache."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from prism.cache import RedisCache, cache_secret
from prism.config import Settings
from prism.engine import Prism
from prism.index.embed import HashingEmbedder
from prism.retrieve.search import Searcher, SearchOutcome
from services import free_port

SECRET = cache_secret("the PRISM_API_SECRET both replicas share, 48 characters")


class Counting(HashingEmbedder):
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_queries(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        return super().embed_queries(texts)


class Computed(Exception):
    """Raised when a search is computed rather than served from the cache."""


def refuse_to_compute(*args: object, **kwargs: object) -> SearchOutcome:
    raise Computed


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "tokens.py").write_text("def refresh_token(session):\n    return session.token\n")
    (folder / "billing.py").write_text("def charge(amount):\n    return amount\n")
    return folder


@pytest.fixture
def replicas(tmp_path: Path, root: Path, postgres_url: str, redis_url: str) -> Iterator[tuple[Prism, Prism]]:
    """Replica A and replica B: their own PRISM_HOME, one database, one Redis, one secret."""
    prefix = f"test:{uuid.uuid4().hex}:"
    engines = [Prism(root, settings=Settings(home=tmp_path / name, embedder="hashing", database_url=postgres_url),
                     cache=RedisCache(redis_url, SECRET, prefix=prefix), embedder=Counting())
               for name in ("a", "b")]
    yield engines[0], engines[1]
    for engine in engines:
        assert isinstance(engine.cache, RedisCache)
        engine.cache.close()
        engine.close()


def names(engine: Prism, query: str) -> list[str]:
    return [hit.chunk.chunk.name for hit in engine.search(query).hits]


def test_replica_b_serves_a_result_replica_a_cached_until_a_reindex(
        replicas: tuple[Prism, Prism], root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = replicas
    a.index()
    first = names(a, "refresh token")
    assert first[0] == "refresh_token"
    with monkeypatch.context() as patch:
        patch.setattr(Searcher, "search", refuse_to_compute)
        assert names(b, "refresh token") == first  # served from Redis: B computed nothing
    (root / "tokens.py").write_text("def refresh_token_rotated(session):\n    return session.rotate()\n")
    a.index()  # bumps the generation
    with monkeypatch.context() as patch:
        patch.setattr(Searcher, "search", refuse_to_compute)
        with pytest.raises(Computed):
            b.search("refresh token")  # the old result is not served
    assert names(b, "refresh token")[0] == "refresh_token_rotated"


def test_a_rebuilt_index_is_never_served_stale(
        replicas: tuple[Prism, Prism], root: Path) -> None:
    a, b = replicas
    a.index()
    assert names(b, "charge")[0] == "charge"
    assert a.forget()
    (root / "billing.py").write_text("def charge_card(amount):\n    return amount\n")
    a.index()  # a new index identity (an embedded index even restarts its generations: test_engine_parts)
    assert names(b, "charge")[0] == "charge_card"


def test_feedback_on_one_replica_invalidates_the_others_results(
        replicas: tuple[Prism, Prism], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = replicas
    a.index()
    names(a, "token")
    b.mark_helpful("billing.py", "charge")
    with monkeypatch.context() as patch:
        patch.setattr(Searcher, "search", refuse_to_compute)
        with pytest.raises(Computed):
            a.search("token")


def test_query_vectors_are_shared(replicas: tuple[Prism, Prism]) -> None:
    a, b = replicas
    a.index()
    a.search("where is the session token refreshed")
    embedder = b.embedder
    assert isinstance(embedder, Counting)
    b.search("where is the session token refreshed", limit=3)  # another request: a result miss
    assert embedder.calls == []  # but the query's vector came from A's cache entry


def test_search_answers_while_redis_is_down(tmp_path: Path, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(home=tmp_path / "home", embedder="hashing")
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", SECRET)  # nothing listens there
    with Prism(root, settings=settings, cache=cache) as engine, \
            caplog.at_level(logging.WARNING, logger="prism.cache"):
        engine.index()
        assert names(engine, "refresh token")[0] == "refresh_token"
        assert names(engine, "refresh token")[0] == "refresh_token"
        engine.mark_helpful("tokens.py", "refresh_token")
    warnings = [r for r in caplog.records if r.name == "prism.cache"]
    assert len(warnings) == 1 and "failed (ConnectionError)" in warnings[0].message
    cache.close()
