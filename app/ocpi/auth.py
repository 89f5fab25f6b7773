"""The ``Authorization: Token ...`` header (transport_and_format, Authorization header)."""

from __future__ import annotations

import base64
import binascii


def encode_token(token: str) -> str:
    """The header value for a credentials token: Base64 of its UTF-8 bytes (OCPI 2.2-d2 onwards)."""
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def token_candidates(header: str | None) -> list[str]:
    """The credentials tokens an Authorization header may carry, most likely first.

    2.2.1 requires Base64, but "Many OCPI 2.1.1 and 2.2 implementations do not Base64 encode the
    credentials token": a value that decodes to printable ASCII is tried decoded, then as sent.
    """
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "token":
        return []
    value = value.strip()
    if not value:
        return []
    candidates: list[str] = []
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    # The spec's own example ("ZXhhbXBsZS10b2tlbgo=") encodes a trailing newline.
    decoded = decoded.strip()
    if decoded and all(32 < ord(c) < 127 for c in decoded):
        candidates.append(decoded)
    if value not in candidates:
        candidates.append(value)
    return candidates
