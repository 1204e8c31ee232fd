"""Server secret material: HKDF-derived keys for API-key hashing and Fernet encryption at rest.

One root secret (API_SECRET, or in development a generated file under PRISM_HOME with mode
0600) yields independent sub-keys, so the hash key and the encryption key never coincide.
Changing API_SECRET invalidates every stored API key and encrypted value: rotate keys after.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from prism.errors import ConfigError
from prism.serve.home import private_dir

DEV_SECRET_FILE = "dev-secret"


def _derive(root: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"prism-server-v1",
                info=purpose.encode()).derive(root)


def load_or_create_dev_secret(folder: Path) -> str:
    """The development root secret, created once (0600) so the CLI and server share it.

    Several processes may start at once (`prism serve --workers N`): each writes a private temp
    file and hard-links it into place, so exactly one secret wins and nobody reads a half-written
    file.
    """
    private_dir(folder)
    path = folder / DEV_SECRET_FILE
    if not path.exists():
        temp = folder / f".{DEV_SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
                os.link(temp, path)
        finally:
            temp.unlink()
    return path.read_text(encoding="utf-8").strip()


class SecretBox:
    """Hashes API keys (HMAC-SHA256) and encrypts stored secrets (Fernet) from one root secret."""

    def __init__(self, root_secret: str) -> None:
        if not root_secret:
            raise ConfigError("The server secret is empty.", hint="Set API_SECRET.")
        root = root_secret.encode()
        self._hash_key = _derive(root, "api-key-hash")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(root, "at-rest-encryption")))

    def hash_key(self, api_key: str) -> str:
        """Keyed hash of an API key: a database leak alone cannot verify guesses."""
        return hmac.new(self._hash_key, api_key.encode(), hashlib.sha256).hexdigest()

    def verify_key(self, api_key: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash_key(api_key), stored_hash)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError("A stored secret cannot be decrypted with the current API_SECRET.",
                              hint="API_SECRET changed since it was stored: store the secret again.") from exc
