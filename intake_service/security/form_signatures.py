"""Form-builder webhooks' proof of origin: an HMAC-SHA256 of the raw body, or a secret path."""

from __future__ import annotations

import base64
import hashlib
import hmac


def signature(secret: str, body: bytes, encoding: str) -> str:
    """The HMAC-SHA256 of `body` under `secret`, as hex or base64."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def valid_signature(secret: str, body: bytes, header: str, encoding: str, prefix: str) -> bool:
    """True when `header` is `prefix` + the body's signature (compared in constant time)."""
    expected = prefix + signature(secret, body, encoding)
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def valid_secret(secret: str, given: str) -> bool:
    """True when the secret in the path is the source's (compared in constant time)."""
    return hmac.compare_digest(secret.encode(), given.encode())
