"""PRISM_DATABASE_URL chooses the store: PostgreSQL for every project when set, SQLite otherwise;
a bad URL or an unreachable server is a clear PrismError, and no password is ever echoed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prism.config import Settings, project_slug
from prism.engine import Prism, list_projects
from prism.errors import BackendUnavailableError, ConfigError
from prism.index.postgres import PostgresStore
from prism.index.sqlite import SqliteStore
from services import free_port


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tokens.py").write_text("def refresh_token(session):\n    return session.token\n")
    (root / "billing.py").write_text("def charge(amount):\n    return amount\n")
    return root


def test_the_url_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_DATABASE_URL", "postgresql://prism:s3cret@db:5432/prism")
    url = Settings().database_url
    assert url is not None and url.get_secret_value() == "postgresql://prism:s3cret@db:5432/prism"
    assert "s3cret" not in repr(Settings())
    monkeypatch.setenv("PRISM_DATABASE_URL", "  ")
    assert Settings().database_url is None


def test_without_a_url_the_index_is_embedded_sqlite(tmp_path: Path) -> None:
    with Prism(project(tmp_path), settings=Settings(home=tmp_path / "home", embedder="hashing")) as prism:
        prism.index()
        assert isinstance(prism.store, SqliteStore) and (prism.index_dir / "index.db").is_file()


def test_with_a_url_the_project_lives_in_postgresql(tmp_path: Path, postgres_url: str) -> None:
    root = project(tmp_path)
    settings = Settings(home=tmp_path / "home", embedder="hashing", database_url=postgres_url)
    with Prism(root, settings=settings) as prism:
        assert not prism.is_indexed
        prism.index()
        store = prism.store
        assert isinstance(store, PostgresStore) and store.project == project_slug(root) == prism.project_id
        assert not (prism.index_dir / "index.db").exists()
        assert prism.search("refresh token").hits[0].chunk.chunk.name == "refresh_token"
    with Prism(root, settings=settings) as again:  # a new engine (another replica) finds the index
        assert again.is_indexed and again.status()["chunks"] == 2
        assert again.forget()
    with Prism(root, settings=settings) as after:
        assert not after.is_indexed and after.store.count_chunks() == 0


@pytest.mark.parametrize("url", ["mysql://prism:s3cret@db/prism", "postgresql://prism:s3cret@[::1/prism",
                                 "postgresql://prism:s3cret@db/prism?nonsense=1"])
def test_a_malformed_url_is_a_config_error(tmp_path: Path, url: str) -> None:
    settings = Settings(home=tmp_path / "home", embedder="hashing", database_url=url)
    with pytest.raises(ConfigError) as caught:
        Prism(project(tmp_path), settings=settings).index()
    assert "PRISM_DATABASE_URL" in caught.value.hint and "s3cret" not in str(caught.value)


def test_an_unreachable_server_is_reported_at_once(tmp_path: Path) -> None:
    url = f"postgresql://prism:s3cret@127.0.0.1:{free_port()}/prism"  # nothing listens there
    settings = Settings(home=tmp_path / "home", embedder="hashing", database_url=url)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as caught:
        Prism(project(tmp_path), settings=settings).index()
    assert time.monotonic() - started < 10
    error = caught.value
    assert "cannot be reached" in error.message and "PRISM_DATABASE_URL" in error.hint
    assert "s3cret" not in str(error) and error.http_status == 503
    assert not list_projects(settings)  # no project was recorded
