"""KeyStore: API keys made with a CSPRNG, shown once, stored only as a keyed hash behind a public key id.

A key reads `prism_<key id>_<secret>`. The key id (12 hex chars) finds the row; the whole key
is compared by HMAC-SHA256 under a server secret (see prism.serve.secrets). API keys carry 256
bits of entropy, so a slow password hash (argon2) would add latency per request without adding
security: nobody can brute-force a 256-bit secret, and the keyed hash means a stolen database
alone cannot even test guesses. Every request reads the row, so revoke and rotate take effect
on the next request.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass

from prism.errors import InputError, NotFoundError
from prism.serve.http.db import ServerDB
from prism.serve.http.errors import (
    AuthenticationError,
    ConflictError,
    CredentialsExpiredError,
    KeyRevokedError,
)
from prism.serve.http.scopes import ALL_PROJECTS, ROLE_ACTIONS, Scope, role_for, sorted_actions
from prism.serve.http.settings import ROLES, Role
from prism.serve.secrets import SecretBox

__all__ = ["ALL_PROJECTS", "ApiKey", "KeyStore", "looks_like_api_key"]

KEY_PREFIX = "prism_"
_KEY_RE = re.compile(r"^prism_([0-9a-f]{12})_([A-Za-z0-9_-]{40,64})$")
LAST_USED_EVERY_S = 60.0
MAX_DESCRIPTION_CHARS = 500
# Hashed when a key id is unknown, so that answer costs the same HMAC as a wrong secret (an
# attacker must not learn from timing which key ids exist).
_ABSENT_HASH = "0" * 64


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


_COLUMNS = "key_id, name, role, projects, created_at, expires_at, last_used_at, revoked_at, actions, description"


def _row_to_key(row: tuple[object, ...]) -> ApiKey:
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

    def __init__(self, db: ServerDB, box: SecretBox) -> None:
        self._db = db
        self._box = box
        self._last_used: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: Role | None = "reader", projects: tuple[str, ...] = (ALL_PROJECTS,),
               expires_at: float | None = None, *, actions: frozenset[str] | None = None,
               description: str = "") -> tuple[ApiKey, str]:
        """A new key and its plaintext, which is returned once and never stored.

        Its rights are `actions` when given, else the preset of `role`.
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
        key_id = secrets.token_hex(6)
        plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        self._db.execute(
            f"INSERT INTO api_keys ({_COLUMNS}, key_hash) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)",
            (key_id, name.strip(), role_for(actions), json.dumps(list(projects)), now, expires_at,
             json.dumps(sorted_actions(actions)), description.strip(), self._box.hash_key(plaintext)))
        return self.get(key_id), plaintext

    def get(self, key_id: str) -> ApiKey:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        if not rows:
            raise NotFoundError(f"No API key with id {key_id}.", hint="List keys with `prism keys list`.",
                                value=key_id)
        return _row_to_key(rows[0])

    def all(self, include_revoked: bool = False) -> list[ApiKey]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = self._db.query(f"SELECT {_COLUMNS} FROM api_keys {where} ORDER BY created_at, key_id")
        return [_row_to_key(row) for row in rows]

    def _refuse_last_admin(self, key: ApiKey, doing: str) -> None:
        """Refuse to revoke, rotate or time-limit the last active key with every right on every project.

        Called inside the write transaction, so two admins revoking each other at once cannot both win.
        """
        now = time.time()
        if not (key.active(now) and key.scope.full_admin):
            return
        others = [k for k in self.all() if k.key_id != key.key_id and k.active(now) and k.scope.full_admin]
        if not others:
            raise ConflictError(
                f"API key {key.key_id} is the last active admin key for every project; {doing} it would "
                "lock every administrator out.",
                hint="Create another admin key first: `prism keys create --name NAME --role admin`.",
                value=key.key_id)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke at once; the next request with this key is refused. Idempotent."""
        with self._db.transaction() as conn:
            self._refuse_last_admin(self.get(key_id), "revoking")
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                         (time.time(), key_id))
        return self.get(key_id)

    def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        """A new key with the same name, rights and expiry; the old one is revoked at once."""
        old = self.get(key_id)
        if old.revoked_at is not None:
            raise KeyRevokedError(f"API key {key_id} is revoked and cannot be rotated.",
                                  hint="Create a new key with `prism keys create`.", value=key_id)
        with self._db.transaction() as conn:
            self._refuse_last_admin(old, "rotating")
            new, plaintext = self.create(old.name, None, old.projects, old.expires_at, actions=old.actions,
                                         description=old.description)
            conn.execute("UPDATE api_keys SET revoked_at = ?, rotated_to = ? WHERE key_id = ?",
                         (time.time(), new.key_id, key_id))
        return new, plaintext

    def edit(self, key_id: str, *, name: str | None = None, description: str | None = None,
             expires_at: float | None = None, set_expiry: bool = False) -> ApiKey:
        """Change a key's name, description or expiry (`set_expiry`; None: never); its secret stays."""
        with self._db.transaction() as conn:
            old = self.get(key_id)
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
                self._refuse_last_admin(old, "giving an expiry to")
            conn.execute("UPDATE api_keys SET name = ?, description = ?, expires_at = ? WHERE key_id = ?",
                         (new_name.strip(), new_description.strip(), new_expiry, key_id))
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
        # One row either way (the stored hash, or a stand-in no HMAC can equal), then one HMAC.
        stored = str(self._db.query("SELECT COALESCE((SELECT key_hash FROM api_keys WHERE key_id = ?), ?)",
                                    (key_id, _ABSENT_HASH))[0][0])
        if not self._box.verify_key(plaintext, stored) or stored == _ABSENT_HASH:
            raise AuthenticationError("The API key is not valid.",
                                      hint="Check the key, or ask an admin for a new one.")
        key = self.get(key_id)
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
        self._db.execute("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?", (now, key_id))

    # -- JWT deny list -------------------------------------------------------------------------

    def revoke_token(self, jti: str, forget_after: float) -> None:
        """Refuse every JWT with this `jti` from the next request; the row is dropped after `forget_after`.

        `forget_after` is a time by which every token carrying the id has expired (now + the
        maximum JWT lifetime), so the list stays small. Idempotent.
        """
        now = time.time()
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM revoked_tokens WHERE forget_after < ?", (now,))
            conn.execute("INSERT INTO revoked_tokens (jti, revoked_at, forget_after) VALUES (?, ?, ?) "
                         "ON CONFLICT (jti) DO UPDATE SET forget_after = MAX(forget_after, excluded.forget_after)",
                         (jti, now, forget_after))

    def token_revoked(self, jti: str) -> bool:
        return bool(self._db.query("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)))
