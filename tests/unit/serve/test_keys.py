"""KeyStore: keys shown once, stored hashed, verified, edited, revoked and rotated at once; expiry enforced.

Also: the last admin key stays, unknown key ids cost the same HMAC as known ones, the JWT deny list.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prism.errors import InputError, NotFoundError
from prism.serve.http.db import ServerDB
from prism.serve.http.errors import AuthenticationError, ConflictError, CredentialsExpiredError, KeyRevokedError
from prism.serve.http.keys import KeyStore
from prism.serve.http.scopes import ROLE_ACTIONS
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


def test_a_key_holds_its_role_s_actions_or_exactly_the_actions_given(store: KeyStore) -> None:
    writer, _ = store.create("w", "writer")
    assert writer.actions == ROLE_ACTIONS["writer"] and writer.to_dict()["actions"][0] == "projects.read"
    custom, secret = store.create("m", None, actions=frozenset({"metrics.read"}))
    assert store.verify(secret).actions == {"metrics.read"}
    assert custom.role == "admin"  # the smallest preset holding metrics.read: the admin rate bucket


def test_the_last_admin_key_can_be_neither_revoked_nor_rotated(store: KeyStore) -> None:
    """Defect 6: a fuzzer revoked its own (the only) admin key and locked every admin out."""
    admin, secret = store.create("root", "admin")
    scoped, _ = store.create("scoped", "admin", ("up",))  # not an admin for every project
    for act in (store.revoke, store.rotate):
        with pytest.raises(ConflictError, match="last active admin key"):
            act(admin.key_id)
    with pytest.raises(ConflictError, match="last active admin key"):
        store.edit(admin.key_id, expires_at=time.time() + 60, set_expiry=True)
    assert store.verify(secret).key_id == admin.key_id
    store.revoke(scoped.key_id)  # a lesser admin key goes freely
    second, _ = store.create("second", "admin")
    root, _ = store.rotate(admin.key_id)  # with another admin left, rotating and revoking work
    store.revoke(second.key_id)
    expired, _ = store.create("expired", "admin", expires_at=time.time() + 60)
    store._store.update_key(expired.key_id, {"expires_at": 1})
    with pytest.raises(ConflictError):  # an expired admin key is no successor
        store.revoke(root.key_id)


def test_edit_changes_name_description_and_expiry_but_not_the_secret(store: KeyStore) -> None:
    key, secret = store.create("bot", "reader")
    edited = store.edit(key.key_id, name="ci bot", description="nightly", expires_at=time.time() + 3600,
                        set_expiry=True)
    assert (edited.name, edited.description, edited.role) == ("ci bot", "nightly", "reader")
    assert edited.expires_at is not None and store.verify(secret).key_id == key.key_id
    assert store.edit(key.key_id, set_expiry=True).expires_at is None  # never expires again
    with pytest.raises(InputError, match="past"):
        store.edit(key.key_id, expires_at=time.time() - 1, set_expiry=True)
    store.revoke(key.key_id)
    with pytest.raises(KeyRevokedError):
        store.edit(key.key_id, name="again")


class CountingBox(SecretBox):
    """The real SecretBox, counting the HMAC comparisons it makes."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.compared: list[str] = []

    def verify_key(self, api_key: str, stored_hash: str) -> bool:
        self.compared.append(api_key)
        return super().verify_key(api_key, stored_hash)


def test_an_unknown_key_id_costs_the_same_hmac_as_a_wrong_secret(tmp_path: Path) -> None:
    """Defect 15: an unknown id skipped the HMAC, so response time told which key ids exist."""
    box = CountingBox("s" * 40)
    store = KeyStore(ServerDB(tmp_path / "server.db"), box)
    _, secret = store.create("ci", "reader")
    wrong_secret = secret[:-4] + "AAAA"
    unknown_id = f"prism_{'0' * 12}_{secret.split('_', 2)[2]}"
    for attempt in (wrong_secret, unknown_id):
        with pytest.raises(AuthenticationError, match="not valid") as caught:
            store.verify(attempt)
        assert box.compared[-1] == attempt  # the comparison ran
        assert caught.value.message == "The API key is not valid."  # and the answer is the same
    assert len(box.compared) == 2


def test_revoked_token_ids_are_kept_until_every_such_token_expired(store: KeyStore) -> None:
    store.revoke_token("t1", forget_after=time.time() + 3600)
    store.revoke_token("t1", forget_after=time.time() + 60)  # idempotent; never shortened
    store.revoke_token("old", forget_after=time.time() - 1)
    assert store.token_revoked("t1") and not store.token_revoked("t2")
    store.revoke_token("t3", forget_after=time.time() + 60)  # each revoke drops the entries past their time
    assert not store.token_revoked("old")
