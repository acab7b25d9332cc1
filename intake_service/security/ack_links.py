"""Signed acknowledgement links: who was paged about which lead, signed with SECRET_KEY.

The link in an on-call text or urgent email lets the person paged say "I have it" without
logging in (the staff app is not there yet). It names a lead id and the paged address only;
it expires, and a forged or altered one is refused.
"""

from __future__ import annotations

import datetime as dt
import uuid

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

SALT = "urgent-lead-acknowledgement"
MAX_AGE_SECONDS = 7 * 24 * 3600


class InvalidAckLink(ValueError):
    """The link is forged, altered, expired or malformed."""


def make_token(
    secret_key: str, lead_id: uuid.UUID, by: str, issued_at: dt.datetime | None = None
) -> str:
    """A link token for `by`, paged about `lead_id`, valid MAX_AGE_SECONDS from `issued_at`."""
    signer: type[TimestampSigner] = TimestampSigner
    if issued_at is not None:
        stamp = int(issued_at.timestamp())

        # The message's own clock, so a rendering is reproducible (golden files, retries).
        class _IssuedAt(TimestampSigner):
            def get_timestamp(self) -> int:
                return stamp

        signer = _IssuedAt
    serializer = URLSafeTimedSerializer(secret_key, salt=SALT, signer=signer)
    return serializer.dumps({"lead": str(lead_id), "by": by})


def read_token(secret_key: str, token: str) -> tuple[uuid.UUID, str]:
    """(lead id, who was paged); raises InvalidAckLink."""
    try:
        data = URLSafeTimedSerializer(secret_key, salt=SALT).loads(token, max_age=MAX_AGE_SECONDS)
        return uuid.UUID(data["lead"]), str(data["by"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidAckLink("This acknowledgement link is not valid or has expired.") from None
