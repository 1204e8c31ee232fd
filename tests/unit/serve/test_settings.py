"""ServerSettings: the original's env names, secrets file, and the production start gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism.errors import ConfigError
from prism.serve.http.settings import ServerSettings, load_server_settings, validate_for_start

API = "Zx8-Qm2_Lp5vTn7wRb4yHc6kJd9sFg3e"  # 32 characters, 32 different
JWT = "pA7_dK2-mN9qR4sT6vW8xY3zB5cE7gH1"


def test_original_names_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_SECRET", API)
    monkeypatch.setenv("JWT_SECRET", JWT)
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("ENVIRONMENT", "production")
    settings = load_server_settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.environment == "production"
    assert API not in repr(settings)
    assert validate_for_start(settings) == []


def test_secrets_file_fills_unset_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("# mounted\nAPI_SECRET=" + "f" * 40 + "\nJWT_SECRET='" + "j" * 40 + "'\n")
    monkeypatch.setenv("PRISM_SECRETS_FILE", str(path))
    settings = load_server_settings()
    assert settings.api_secret is not None and settings.api_secret.get_secret_value() == "f" * 40
    assert settings.jwt_secret is not None and settings.jwt_secret.get_secret_value() == "j" * 40


def production(**values: object) -> ServerSettings:
    base: dict[str, object] = {"environment": "production", "api_secret": API, "jwt_secret": JWT,
                               "cors_origins": ["https://prism.example"]}
    return ServerSettings(**{**base, **values})  # type: ignore[arg-type]


def test_production_gate() -> None:
    assert validate_for_start(production()) == []
    with pytest.raises(ConfigError, match="API_SECRET"):
        validate_for_start(ServerSettings(environment="production"))
    with pytest.raises(ConfigError, match="CORS"):
        validate_for_start(production(cors_origins=["*"]))
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


@pytest.mark.parametrize("missing", ["api_secret", "jwt_secret", "cors_origins"])
def test_production_requires_every_secret_the_readme_names(missing: str) -> None:
    """The README: production refuses to start without API_SECRET, JWT_SECRET and CORS_ORIGINS."""
    with pytest.raises(ConfigError, match=missing.upper()) as info:
        validate_for_start(production(**{missing: [] if missing == "cors_origins" else None}))
    assert "not set" in info.value.message


@pytest.mark.parametrize(("secret", "reason"), [
    ("a" * 48, "fewer than 8 different"),  # one repeated character (the probe's case)
    ("changeme" * 5, "fewer than 8 different"),
    ("abcdefgh" + "x" * 40, "more than 33%"),  # enough characters, one dominating
    ("Zx8-Qm2_Lp5vTn7", "shorter than 32"),
])
@pytest.mark.parametrize("name", ["api_secret", "jwt_secret"])
def test_production_refuses_weak_secrets_and_names_the_rule(name: str, secret: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=name.upper()) as info:
        validate_for_start(production(**{name: secret}))
    assert reason in info.value.message
    assert secret not in info.value.message and secret not in info.value.hint


def test_development_warns_about_a_weak_secret_but_still_refuses_a_short_one() -> None:
    warnings = validate_for_start(ServerSettings(api_secret="a" * 48))
    assert any("API_SECRET" in w and "production refuses" in w for w in warnings)
    with pytest.raises(ConfigError, match="shorter than 32"):
        validate_for_start(ServerSettings(api_secret="short"))


def test_production_refuses_one_value_for_both_secrets() -> None:
    with pytest.raises(ConfigError, match="same value"):
        validate_for_start(production(jwt_secret=API))


def test_both_names_with_different_values_refuse_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """PRISM_ENVIRONMENT=development used to win silently over ENVIRONMENT=production."""
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("PRISM_ENVIRONMENT", "development")
    with pytest.raises(ConfigError, match="PRISM_ENVIRONMENT and ENVIRONMENT") as info:
        load_server_settings()
    assert "different values" in info.value.message
    monkeypatch.setenv("PRISM_ENVIRONMENT", "production")  # the same value twice is not a conflict
    monkeypatch.setenv("API_SECRET", API)
    monkeypatch.setenv("PRISM_API_SECRET", JWT)
    with pytest.raises(ConfigError, match="PRISM_API_SECRET and API_SECRET") as info:
        load_server_settings()
    assert API not in str(info.value) and JWT not in str(info.value)
    monkeypatch.delenv("PRISM_API_SECRET")
    assert load_server_settings().environment == "production"
