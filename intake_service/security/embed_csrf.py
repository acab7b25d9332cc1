"""Cookie-free CSRF tokens for the embedded forms: signed, time-limited, bound to one form.

A form inside a clinic's iframe is a third-party page: the browser sends it no SameSite=Lax
cookie (and Safari, or Chrome with third-party cookies off, sends none at all), so Flask-WTF's
session-bound token cannot work there. This token carries what it vouches for instead: the form
it was made for and the submission token (the one-time idempotency key) of that page, signed
with SECRET_KEY under a salt of its own, and refused after MAX_AGE_SECONDS.
"""

from __future__ import annotations

import datetime as dt

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

SALT = "embedded-form-csrf"
# A person may take an hour over the form at night; four leaves room and still ages a copy.
MAX_AGE_SECONDS = 4 * 3600


def _serializer(secret_key: str, now: dt.datetime | None) -> URLSafeTimedSerializer:
    signer: type[TimestampSigner] = TimestampSigner
    if now is not None:
        stamp = int(now.timestamp())

        # The caller's clock, for making and for judging age (tests, a page rendered earlier).
        class _At(TimestampSigner):
            def get_timestamp(self) -> int:
                return stamp

        signer = _At
    return URLSafeTimedSerializer(secret_key, salt=SALT, signer=signer)


def make(secret_key: str, form: str, submission_token: str, now: dt.datetime | None = None) -> str:
    """The token for the page of `form` that carries `submission_token`."""
    return _serializer(secret_key, now).dumps({"form": form, "submission": submission_token})


def valid(
    secret_key: str,
    token: str | None,
    form: str,
    submission_token: str | None,
    now: dt.datetime | None = None,
) -> bool:
    """True when `token` was made here, in the last MAX_AGE_SECONDS, for this form and page."""
    if not token or not submission_token:
        return False
    try:
        data = _serializer(secret_key, now).loads(token, max_age=MAX_AGE_SECONDS)
    except BadSignature:  # also SignatureExpired, and a malformed token
        return False
    return (
        isinstance(data, dict)
        and data.get("form") == form
        and data.get("submission") == submission_token
    )
