"""Twilio webhook signatures: X-Twilio-Signature checked with the SDK's own RequestValidator.

Twilio signs the URL it called plus the sorted form parameters with the account's auth token
(HMAC-SHA1). The URL is the one configured at Twilio, which behind a proxy or a tunnel is not
the one the web server sees, so the check rebuilds it from PUBLIC_BASE_URL, the path and the
query string; a request signed for any other address is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


def signed_url(public_base_url: str, path: str, query_string: str = "") -> str:
    """The address Twilio called, as configured there: PUBLIC_BASE_URL + path (+ ?query)."""
    url = public_base_url.rstrip("/") + path
    return f"{url}?{query_string}" if query_string else url


def is_valid(
    auth_token: str | None, url: str, params: Mapping[str, Any], signature: str | None
) -> bool:
    """True when `signature` is Twilio's signature of `url` and `params` under `auth_token`.

    No token configured, or no signature sent, is never valid.
    """
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))
