"""KeyStore: keys shown once, stored hashed, verified, revoked and rotated at once; expiry enforced."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prism.errors import NotFoundError
from prism.serve.http.db import ServerDB
from prism.serve.http.errors import AuthenticationError, CredentialsExpiredError, KeyRevokedError
from prism.serve.http.keys import KeyStore
from prism.serve.secrets import SecretBox


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(ServerDB(tmp_path / "server.db"), SecretBox("s" * 40))


def test_key_is_stored_only_as_a_keyed_hash(store: KeyStore, tmp_path: Path) -> None:
    key, secret = store.create("ci", "writer", ("alpha",))
    assert secret.startswith(f"prism_{key.key_id}_")
    raw = (tmp_path / "server.db").read_bytes() + (tmp_path / "server.db-wal").read_bytes()
    assert secret.encode() not in raw and secret.split("_", 2)[2].encode() not in raw
    assert store.verify(secret).role == "writer"
    assert store.verify(secret).allows_project("alpha") and not store.verify(secret).allows_project("beta")


def test_wrong_malformed_revoked_expired(store: KeyStore) -> None:
    key, secret = store.create("ci", "reader")
    with pytest.raises(AuthenticationError, match="not valid"):
        store.verify(secret[:-4] + "AAAA")
    with pytest.raises(AuthenticationError, match="malformed"):
        store.verify("prism_nope")
    store.revoke(key.key_id)
    with pytest.raises(KeyRevokedError):
        store.verify(secret)
    _, secret2 = store.create("tmp", "reader", expires_at=time.time() + 10)
    with pytest.raises(CredentialsExpiredError):
        store.verify(secret2, now=time.time() + 11)
    with pytest.raises(NotFoundError):
        store.revoke("000000000000")


def test_rotate_keeps_metadata_and_kills_the_old_secret(store: KeyStore) -> None:
    key, secret = store.create("bot", "admin", ("a", "b"))
    new, new_secret = store.rotate(key.key_id)
    assert (new.name, new.role, new.projects) == ("bot", "admin", ("a", "b"))
    with pytest.raises(KeyRevokedError):
        store.verify(secret)
    assert store.verify(new_secret).key_id == new.key_id
    assert [k.key_id for k in store.all()] == [new.key_id]
    assert len(store.all(include_revoked=True)) == 2


def test_a_different_server_secret_cannot_verify(store: KeyStore, tmp_path: Path) -> None:
    _, secret = store.create("ci", "reader")
    other = KeyStore(ServerDB(tmp_path / "server.db"), SecretBox("t" * 40))
    with pytest.raises(AuthenticationError):
        other.verify(secret)
