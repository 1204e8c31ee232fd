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
from prism.serve.http.errors import AuthenticationError, CredentialsExpiredError, KeyRevokedError
from prism.serve.http.settings import ROLES, Role
from prism.serve.secrets import SecretBox

KEY_PREFIX = "prism_"
_KEY_RE = re.compile(r"^prism_([0-9a-f]{12})_([A-Za-z0-9_-]{40,64})$")
LAST_USED_EVERY_S = 60.0
ALL_PROJECTS = "*"


@dataclass(frozen=True)
class ApiKey:
    """One key's metadata (never its secret)."""

    key_id: str
    name: str
    role: Role
    projects: tuple[str, ...]  # ("*",) means every project
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None

    def allows_project(self, project: str) -> bool:
        return ALL_PROJECTS in self.projects or project in self.projects

    def to_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id, "name": self.name, "role": self.role,
            "projects": list(self.projects), "created_at": self.created_at,
            "expires_at": self.expires_at, "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


_COLUMNS = "key_id, name, role, projects, created_at, expires_at, last_used_at, revoked_at"


def _row_to_key(row: tuple[object, ...]) -> ApiKey:
    key_id, name, role, projects, created, expires, used, revoked = row
    role_s = str(role)
    assert role_s in ROLES
    return ApiKey(str(key_id), str(name), role_s, tuple(json.loads(str(projects))),
                  float(created), None if expires is None else float(expires),  # type: ignore[arg-type]
                  None if used is None else float(used),  # type: ignore[arg-type]
                  None if revoked is None else float(revoked))  # type: ignore[arg-type]


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


class KeyStore:
    """Create, list, verify, revoke and rotate API keys in the server database."""

    def __init__(self, db: ServerDB, box: SecretBox) -> None:
        self._db = db
        self._box = box
        self._last_used: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: Role, projects: tuple[str, ...] = (ALL_PROJECTS,),
               expires_at: float | None = None) -> tuple[ApiKey, str]:
        """A new key and its plaintext, which is returned once and never stored."""
        if role not in ROLES:
            raise InputError(f"Unknown role {role!r}.", hint=f"Use one of {', '.join(ROLES)}.", value=role)
        if not name.strip() or len(name) > 100:
            raise InputError("A key needs a name of 1–100 characters.", hint="Pass --name.", value=name)
        if not projects:
            projects = (ALL_PROJECTS,)
        now = time.time()
        if expires_at is not None and expires_at <= now:
            raise InputError("The expiry is in the past.", hint="Pass a positive --expires-days.")
        key_id = secrets.token_hex(6)
        plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        self._db.execute(
            f"INSERT INTO api_keys ({_COLUMNS}, key_hash) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
            (key_id, name.strip(), role, json.dumps(list(projects)), now, expires_at,
             self._box.hash_key(plaintext)))
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

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke at once; the next request with this key is refused. Idempotent."""
        self.get(key_id)
        self._db.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                         (time.time(), key_id))
        return self.get(key_id)

    def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        """A new key with the same name, role, projects and expiry; the old one is revoked at once."""
        old = self.get(key_id)
        if old.revoked_at is not None:
            raise KeyRevokedError(f"API key {key_id} is revoked and cannot be rotated.",
                                  hint="Create a new key with `prism keys create`.", value=key_id)
        new, plaintext = self.create(old.name, old.role, old.projects, old.expires_at)
        with self._db.transaction() as conn:
            conn.execute("UPDATE api_keys SET revoked_at = ?, rotated_to = ? WHERE key_id = ?",
                         (time.time(), new.key_id, key_id))
        return new, plaintext

    def verify(self, plaintext: str, now: float | None = None) -> ApiKey:
        """The key's record, or AuthenticationError (unknown, wrong, revoked or expired)."""
        match = _KEY_RE.match(plaintext)
        if match is None:
            raise AuthenticationError("The API key is malformed.",
                                      hint="Send the key exactly as `prism keys create` printed it.")
        key_id = match.group(1)
        rows = self._db.query(f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_id = ?", (key_id,))
        if not rows or not self._box.verify_key(plaintext, str(rows[0][-1])):
            raise AuthenticationError("The API key is not valid.",
                                      hint="Check the key, or ask an admin for a new one.")
        key = _row_to_key(rows[0][:-1])
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
