"""Credentials tokens: generation, hashing and encryption.

- Tokens the hub issues (CREDENTIALS_TOKEN_A and _C) are stored only as SHA-256 hashes: they carry
  256 bits of entropy, so a hash cannot be reversed, and a leaked database cannot impersonate a
  party towards the hub.
- Tokens the hub must present to partners are stored encrypted (Fernet, AES-128-CBC + HMAC) with a
  key that lives outside the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken


def new_token() -> str:
    """A credentials token: 32 random bytes as 43 printable, non-whitespace ASCII characters.

    (credentials.asciidoc: "only printable non-whitespace ASCII characters", string(64).)
    """
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class TokenCipher:
    """Encrypts tokens for storage with a key derived from the configured secret."""

    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(("voltroam-token-cipher:" + secret).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ValueError("stored token cannot be decrypted with the configured key") from None
