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
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


def new_token() -> str:
    """A credentials token: 32 random bytes as 43 printable, non-whitespace ASCII characters.

    (credentials.asciidoc: "only printable non-whitespace ASCII characters", string(64).)
    """
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class UndecryptableToken(ValueError):
    """A stored partner token that the configured secret key does not decrypt (it was stored
    with another key)."""

    def __init__(self) -> None:
        super().__init__(
            "the partner's stored token cannot be decrypted with this hub's secret key: it was"
            " stored with another key (check SECRET_KEY / SECRET_KEY_FILE, or connect the"
            " partner again)"
        )


# What the fingerprint of a key is computed over. The fingerprint (an HMAC of this constant)
# tells whether a key is the one a database's tokens were stored with, without storing the
# key; it gives an attacker with the database nothing the stored Fernet tokens do not already.
_FINGERPRINT_MESSAGE = b"voltroam secret key fingerprint v1"


def key_fingerprint(secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()


class TokenCipher:
    """Encrypts tokens for storage with a key derived from the configured secret.

    The Fernet instance (and with it the ``cryptography`` package, about 8 MiB resident) is
    built on the first encryption or decryption: a hub without partners never needs it."""

    def __init__(self, secret: str) -> None:
        self._key = base64.urlsafe_b64encode(
            hashlib.sha256(("voltroam-token-cipher:" + secret).encode()).digest()
        )
        self.fingerprint = key_fingerprint(secret)

    @cached_property
    def _fernet(self) -> Fernet:
        from cryptography.fernet import Fernet

        return Fernet(self._key)

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError):
            raise UndecryptableToken() from None

    def can_decrypt(self, stored: str) -> bool:
        try:
            self.decrypt(stored)
        except UndecryptableToken:
            return False
        return True
