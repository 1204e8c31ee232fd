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
