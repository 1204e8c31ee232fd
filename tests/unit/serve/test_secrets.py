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


def test_dev_secret_created_by_racing_workers_is_one_secret(tmp_path: Path) -> None:
    """`prism serve --workers N` starts N processes that may all create the secret at once."""
    import threading

    for attempt in range(10):
        folder = tmp_path / str(attempt)
        barrier = threading.Barrier(8)
        found: list[str] = []

        def start(folder: Path = folder, barrier: threading.Barrier = barrier, found: list[str] = found) -> None:
            barrier.wait()
            found.append(load_or_create_dev_secret(folder))

        threads = [threading.Thread(target=start) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(found) == 8 and len(set(found)) == 1 and len(found[0]) >= 48
        assert [p.name for p in folder.iterdir()] == ["dev-secret"]  # no temp files left behind
