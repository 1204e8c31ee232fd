"""ServerSettings: the original's env names, secrets file, and the production start gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism.errors import ConfigError
from prism.serve.http.settings import ServerSettings, load_server_settings, validate_for_start


def test_original_names_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_SECRET", "x" * 40)
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("ENVIRONMENT", "production")
    settings = load_server_settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.environment == "production"
    assert "x" * 40 not in repr(settings)
    assert validate_for_start(settings) == []


def test_secrets_file_fills_unset_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("# mounted\nAPI_SECRET=" + "f" * 40 + "\nJWT_SECRET='" + "j" * 40 + "'\n")
    monkeypatch.setenv("PRISM_SECRETS_FILE", str(path))
    settings = load_server_settings()
    assert settings.api_secret is not None and settings.api_secret.get_secret_value() == "f" * 40
    assert settings.jwt_secret is not None and settings.jwt_secret.get_secret_value() == "j" * 40


def test_production_gate() -> None:
    with pytest.raises(ConfigError, match="API_SECRET"):
        validate_for_start(ServerSettings(environment="production"))
    with pytest.raises(ConfigError, match="CORS"):
        validate_for_start(ServerSettings(environment="production", api_secret="a" * 40, cors_origins=["*"]))
    warnings = validate_for_start(ServerSettings(allow_anonymous=True))
    assert any("Anonymous" in w for w in warnings)


def test_rate_backend_names_and_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServerSettings().rate_backend == "auto" and ServerSettings().limiter_backend == "memory"
    assert ServerSettings(workers=4).limiter_backend == "sqlite"
    assert ServerSettings(workers=4, rate_backend="memory").limiter_backend == "memory"
    monkeypatch.setenv("PRISM_RATE_BACKEND", " SQLite ")
    assert load_server_settings().limiter_backend == "sqlite"
    monkeypatch.setenv("PRISM_RATE_BACKEND", "Redis")
    assert load_server_settings().limiter_backend == "redis"
    monkeypatch.setenv("PRISM_RATE_BACKEND", "memcached")
    with pytest.raises(ConfigError, match="PRISM_RATE_BACKEND") as info:
        load_server_settings()
    assert "'auto', 'memory', 'sqlite' or 'redis'" in info.value.message
    monkeypatch.setenv("PRISM_RATE_BACKEND", "auto")
    monkeypatch.setenv("PRISM_WORKERS", "0")
    with pytest.raises(ConfigError, match="PRISM_WORKERS"):
        load_server_settings()


def test_per_worker_buckets_are_warned_about() -> None:
    warnings = validate_for_start(ServerSettings(workers=3, rate_backend="memory"))
    assert any("3 workers" in w and "sqlite" in w for w in warnings)
    assert not any("workers" in w for w in validate_for_start(ServerSettings(workers=3)))


def test_the_worker_factory_shares_one_limiter(prism_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`prism serve --workers N` sets PRISM_WORKERS; every worker's app then uses PRISM_HOME's SQLite buckets."""
    from prism.serve.http.app import app_from_env, create_app
    from prism.serve.http.limits import SqliteRateLimiter, TokenBucketLimiter

    monkeypatch.setenv("PRISM_API_SECRET", "s" * 40)
    assert isinstance(create_app(load_model=False).state.prism.limiter, TokenBucketLimiter)
    monkeypatch.setenv("PRISM_WORKERS", "2")
    limiter = app_from_env().state.prism.limiter
    assert isinstance(limiter, SqliteRateLimiter)
    assert limiter.path == prism_home / "server" / "ratelimit.db"
    limiter.close()


def test_a_worker_runs_at_most_request_threads_requests_at_once(prism_home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Sync endpoints share anyio's thread pool; the app bounds it to PRISM_REQUEST_THREADS."""
    import anyio.to_thread
    from fastapi.testclient import TestClient

    from prism.serve.http.app import create_app

    monkeypatch.setenv("PRISM_API_SECRET", "s" * 40)
    monkeypatch.setenv("PRISM_REQUEST_THREADS", "3")
    with TestClient(create_app(load_model=False)) as client:
        assert client.get("/health").status_code == 200
        assert client.portal is not None
        tokens = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 3
    monkeypatch.setenv("PRISM_REQUEST_THREADS", "0")
    with pytest.raises(ConfigError, match="PRISM_REQUEST_THREADS"):
        load_server_settings()
