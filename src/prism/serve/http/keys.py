"""KeyStore: API keys made with a CSPRNG, shown once, stored only as a keyed hash behind a public key id.

A key reads `prism_<key id>_<secret>`. The key id (12 hex chars) finds the row; the whole key
is compared by HMAC-SHA256 under a server secret (see prism.serve.secrets). API keys carry 256
bits of entropy, so a slow password hash (argon2) would add latency per request without adding
security: nobody can brute-force a 256-bit secret, and the keyed hash means a stolen database
alone cannot even test guesses. Every request reads the row, so revoke and rotate take effect
on the next request, on every replica sharing the store (nothing here caches a key).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass

from prism.errors import InputError, NotFoundError
from prism.serve.http.errors import (
    AuthenticationError,
    ConflictError,
    CredentialsExpiredError,
    KeyRevokedError,
)
from prism.serve.http.scopes import ALL_PROJECTS, ROLE_ACTIONS, Scope, role_for, sorted_actions
from prism.serve.http.server_store import KeyTable, Row, ServerStore
from prism.serve.http.settings import ROLES, Role
from prism.serve.secrets import SecretBox

__all__ = ["ALL_PROJECTS", "ApiKey", "KeyStore", "looks_like_api_key"]

KEY_PREFIX = "prism_"
_KEY_RE = re.compile(r"^prism_([0-9a-f]{12})_([A-Za-z0-9_-]{40,64})$")
LAST_USED_EVERY_S = 60.0
MAX_DESCRIPTION_CHARS = 500


@dataclass(frozen=True)
class ApiKey:
    """One key's metadata (never its secret)."""

    key_id: str
    name: str
    role: Role  # the smallest preset holding `actions`; picks the rate bucket
    projects: tuple[str, ...]  # ("*",) means every project
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None
    actions: frozenset[str] = frozenset()
    description: str = ""

    @property
    def scope(self) -> Scope:
        return Scope(self.actions, self.projects, self.expires_at)

    def allows_project(self, project: str) -> bool:
        return self.scope.allows_project(project)

    def active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def audit_details(self) -> dict[str, object]:
        """What the audit log keeps about a new key: its rights, never its secret."""
        return {"name": self.name, "actions": sorted_actions(self.actions), "projects": list(self.projects),
                "expires_at": self.expires_at}

    def to_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id, "name": self.name, "description": self.description, "role": self.role,
            "actions": sorted_actions(self.actions), "projects": list(self.projects),
            "created_at": self.created_at, "expires_at": self.expires_at,
            "last_used_at": self.last_used_at, "revoked_at": self.revoked_at,
        }


def _row_to_key(row: Row) -> ApiKey:
    key_id, name, role, projects, created, expires, used, revoked, actions, description = row
    role_s = str(role)
    assert role_s in ROLES
    return ApiKey(str(key_id), str(name), role_s, tuple(json.loads(str(projects))),
                  float(created), None if expires is None else float(expires),  # type: ignore[arg-type]
                  None if used is None else float(used),  # type: ignore[arg-type]
                  None if revoked is None else float(revoked),  # type: ignore[arg-type]
                  frozenset(json.loads(str(actions))), str(description))


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def _check_name(name: str, description: str) -> None:
    if not name.strip() or len(name) > 100:
        raise InputError("A key needs a name of 1–100 characters.", hint="Pass --name.", value=name)
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InputError(f"A key's description is at most {MAX_DESCRIPTION_CHARS} characters.",
                         hint="Shorten --description.")


class KeyStore:
    """Create, list, verify, edit, revoke and rotate API keys; keep the JWT deny list."""

    def __init__(self, store: ServerStore, box: SecretBox) -> None:
        self._store = store
        self._box = box
        self._last_used: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: Role | None = "reader", projects: tuple[str, ...] = (ALL_PROJECTS,),
               expires_at: float | None = None, *, actions: frozenset[str] | None = None,
               description: str = "", keys: KeyTable | None = None) -> tuple[ApiKey, str]:
        """A new key and its plaintext, which is returned once and never stored.

        Its rights are `actions` when given, else the preset of `role`; `keys` is the transaction
        to write it in (rotate's), else it is written at once.
        """
        if actions is None:
            if role not in ROLES:
                raise InputError(f"Unknown role {role!r}.", hint=f"Use one of {', '.join(ROLES)}.", value=role)
            actions = ROLE_ACTIONS[role]
        _check_name(name, description)
        if not projects:
            projects = (ALL_PROJECTS,)
        now = time.time()
        if expires_at is not None and expires_at <= now:
            raise InputError("The expiry is in the past.", hint="Pass a positive --expires-days.")
        key = ApiKey(secrets.token_hex(6), name.strip(), role_for(actions), tuple(projects), now, expires_at,
                     None, None, actions, description.strip())
        plaintext = f"{KEY_PREFIX}{key.key_id}_{secrets.token_urlsafe(32)}"
        (keys or self._store).add_key({
            "key_id": key.key_id, "name": key.name, "role": key.role, "projects": json.dumps(list(key.projects)),
            "created_at": now, "expires_at": expires_at, "last_used_at": None, "revoked_at": None,
            "actions": json.dumps(sorted_actions(actions)), "description": key.description,
            "key_hash": self._box.hash_key(plaintext)})
        return key, plaintext

    def get(self, key_id: str, keys: KeyTable | None = None) -> ApiKey:
        row = (keys or self._store).key(key_id)
        if row is None:
            raise NotFoundError(f"No API key with id {key_id}.", hint="List keys with `prism keys list`.",
                                value=key_id)
        return _row_to_key(row)

    def all(self, include_revoked: bool = False, keys: KeyTable | None = None) -> list[ApiKey]:
        return [_row_to_key(row) for row in (keys or self._store).keys(include_revoked)]

    def _refuse_last_admin(self, key: ApiKey, doing: str, keys: KeyTable) -> None:
        """Refuse to revoke, rotate or time-limit the last active key with every right on every project.

        Called inside the key transaction, so two admins revoking each other at once (on any
        replicas) cannot both win.
        """
        now = time.time()
        if not (key.active(now) and key.scope.full_admin):
            return
        others = [k for k in self.all(keys=keys) if k.key_id != key.key_id and k.active(now) and k.scope.full_admin]
        if not others:
            raise ConflictError(
                f"API key {key.key_id} is the last active admin key for every project; {doing} it would "
                "lock every administrator out.",
                hint="Create another admin key first: `prism keys create --name NAME --role admin`.",
                value=key.key_id)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke at once; the next request with this key is refused. Idempotent."""
        with self._store.keys_transaction() as keys:
            self._refuse_last_admin(self.get(key_id, keys), "revoking", keys)
            keys.update_key(key_id, {"revoked_at": time.time()}, only_active=True)
        return self.get(key_id)

    def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        """A new key with the same name, rights and expiry; the old one is revoked at once."""
        with self._store.keys_transaction() as keys:
            old = self.get(key_id, keys)
            if old.revoked_at is not None:
                raise KeyRevokedError(f"API key {key_id} is revoked and cannot be rotated.",
                                      hint="Create a new key with `prism keys create`.", value=key_id)
            if not old.active(time.time()):  # its successor would inherit an expiry in the past
                raise ConflictError(f"API key {key_id} has expired and cannot be rotated.",
                                    hint="Create a new key with `prism keys create`.", value=key_id)
            self._refuse_last_admin(old, "rotating", keys)
            new, plaintext = self.create(old.name, None, old.projects, old.expires_at, actions=old.actions,
                                         description=old.description, keys=keys)
            keys.update_key(key_id, {"revoked_at": time.time(), "rotated_to": new.key_id})
        return self.get(new.key_id), plaintext

    def edit(self, key_id: str, *, name: str | None = None, description: str | None = None,
             expires_at: float | None = None, set_expiry: bool = False) -> ApiKey:
        """Change a key's name, description or expiry (`set_expiry`; None: never); its secret stays."""
        with self._store.keys_transaction() as keys:
            old = self.get(key_id, keys)
            if old.revoked_at is not None:
                raise KeyRevokedError(f"API key {key_id} is revoked and cannot be edited.",
                                      hint="Create a new key with `prism keys create`.", value=key_id)
            new_name = old.name if name is None else name
            new_description = old.description if description is None else description
            _check_name(new_name, new_description)
            new_expiry = expires_at if set_expiry else old.expires_at
            if set_expiry and expires_at is not None:
                if expires_at <= time.time():
                    raise InputError("The expiry is in the past.", hint="Pass a positive --expires-days.")
                self._refuse_last_admin(old, "giving an expiry to", keys)
            keys.update_key(key_id, {"name": new_name.strip(), "description": new_description.strip(),
                                     "expires_at": new_expiry})
        return self.get(key_id)

    def verify(self, plaintext: str, now: float | None = None) -> ApiKey:
        """The key's record, or AuthenticationError (unknown, wrong, revoked or expired).

        An unknown key id costs the same HMAC and constant-time compare as a known one.
        """
        match = _KEY_RE.match(plaintext)
        if match is None:
            raise AuthenticationError("The API key is malformed.",
                                      hint="Send the key exactly as `prism keys create` printed it.")
        key_id = match.group(1)
        # One round trip either way (the stored hash, or a stand-in no HMAC can equal), then one
        # HMAC: an unknown key id must cost what a wrong secret costs.
        stored, row = self._store.key_with_hash(key_id)
        if not self._box.verify_key(plaintext, stored) or row is None:
            raise AuthenticationError("The API key is not valid.",
                                      hint="Check the key, or ask an admin for a new one.")
        key = _row_to_key(row)
        now = time.time() if now is None else now
        if key.revoked_at is not None:
            raise KeyRevokedError(f"API key {key_id} has been revoked.", hint="Ask an admin for a new key.",
                                  value=key_id)
        if key.expires_at is not None and key.expires_at <= now:
            raise CredentialsExpiredError(f"API key {key_id} has expired.",
                                          hint="Ask an admin to rotate or create a key.", value=key_id)
        self._touch(key_id, now)
        return key

    def _touch(self, key_id: str, now: float) -> None:
        """Record last use, at most once a minute per key (a write per request would serialise load)."""
        with self._lock:
            if now - self._last_used.get(key_id, 0.0) < LAST_USED_EVERY_S:
                return
            self._last_used[key_id] = now
        self._store.update_key(key_id, {"last_used_at": now})

    # -- JWT deny list -------------------------------------------------------------------------

    def revoke_token(self, jti: str, forget_after: float) -> None:
        """Refuse every JWT with this `jti` from the next request; the row is dropped after `forget_after`.

        `forget_after` is a time by which every token carrying the id has expired (now + the
        maximum JWT lifetime), so the list stays small. Idempotent.
        """
        self._store.revoke_token(jti, time.time(), forget_after)

    def token_revoked(self, jti: str) -> bool:
        return self._store.token_revoked(jti)
