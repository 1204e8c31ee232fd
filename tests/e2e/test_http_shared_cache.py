"""Two API replicas (each its own PRISM_HOME) on one PostgreSQL and one Redis: PRISM_REDIS_URL alone
makes them share cached search results, and a re-index through either one invalidates them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from prism.cache import MemoryCache, RedisCache
from prism.config import Settings
from prism.retrieve.search import Searcher, SearchOutcome
from prism.serve.http.app import create_app
from prism.serve.http.settings import ServerSettings
from services import scratch_database

API_SECRET = "shared-cache-secret-" + "c" * 40


def refuse_to_compute(*args: object, **kwargs: object) -> SearchOutcome:
    raise AssertionError("computed, not served from the shared cache")


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[tuple[TestClient, TestClient, Path]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "auth.py").write_text("def refresh_token(user):\n    return user.token + 1\n")
    with scratch_database(postgres_url) as database:
        apps = [create_app(ServerSettings(api_secret=API_SECRET, redis_url=redis_url, allowed_roots=[tmp_path]),
                           Settings(home=tmp_path / name, embedder="hashing", database_url=database),
                           load_model=False)
                for name in ("a", "b")]
        with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
            yield first, second, repo


def test_replica_b_answers_from_what_replica_a_cached(replicas: tuple[TestClient, TestClient, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, repo = replicas
    assert isinstance(a.app.state.prism.projects.cache, RedisCache)  # type: ignore[attr-defined]
    _, token = a.app.state.prism.keys.create("admin", "admin")  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}  # in PostgreSQL: valid on both replicas
    assert a.post("/api/v1/projects", json={"name": "demo", "path": str(repo)}, headers=headers).status_code == 201
    assert a.post("/api/v1/projects/demo/index", json={}, headers=headers).status_code == 200
    query = {"query": "refresh token"}
    first = a.post("/api/v1/projects/demo/search", json=query, headers=headers).json()["results"]
    with monkeypatch.context() as patch:
        patch.setattr(Searcher, "search", refuse_to_compute)
        served = b.post("/api/v1/projects/demo/search", json=query, headers=headers)
    assert served.status_code == 200 and served.json()["results"] == first
    (repo / "auth.py").write_text("def refresh_token_rotated(user):\n    return user.rotate()\n")
    assert b.post("/api/v1/projects/demo/index", json={}, headers=headers).status_code == 200
    again = a.post("/api/v1/projects/demo/search", json=query, headers=headers).json()["results"]
    assert again != first and "refresh_token_rotated" in str(again)


def test_without_redis_each_replica_caches_in_its_own_process(prism_home: Path) -> None:
    app = create_app(ServerSettings(api_secret=API_SECRET), Settings(home=prism_home), load_model=False)
    assert isinstance(app.state.prism.projects.cache, MemoryCache)
    explicit = ServerSettings(api_secret=API_SECRET, redis_url="redis://127.0.0.1:1/0", cache_backend="memory")
    assert explicit.cache == "memory" and ServerSettings(redis_url="redis://127.0.0.1:1/0").cache == "redis"
