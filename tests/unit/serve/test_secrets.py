"""SecretBox: independent derived keys; encryption round-trips and fails cleanly under another secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism.errors import ConfigError
from prism.serve.secrets import SecretBox, load_or_create_dev_secret


def test_encrypt_round_trip_and_wrong_secret() -> None:
    box = SecretBox("a" * 40)
    token = box.encrypt("sk-provider-key")
    assert "sk-provider-key" not in token and box.decrypt(token) == "sk-provider-key"
    with pytest.raises(ConfigError, match="API_SECRET changed"):
        SecretBox("b" * 40).decrypt(token)
    assert box.hash_key("k") != SecretBox("b" * 40).hash_key("k")


def test_dev_secret_is_created_once_with_owner_only_mode(tmp_path: Path) -> None:
    first = load_or_create_dev_secret(tmp_path)
    assert load_or_create_dev_secret(tmp_path) == first and len(first) >= 48
    assert (tmp_path / "dev-secret").stat().st_mode & 0o777 == 0o600
