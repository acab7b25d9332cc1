"""Email unsubscribe: a signed link in every patient email that works without signing in.

The token is the lead's id signed with SECRET_KEY (itsdangerous): it cannot be forged or
pointed at someone else, and it does not expire, because an unsubscribe link in an old email
must still work. RFC 8058 one-click: mail providers POST `List-Unsubscribe=One-Click` to the
same address; a GET only shows a page with a button, since link scanners fetch every URL.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain.compliance import opt_outs
from intake_service.domain.compliance.consent import has_consent
from intake_service.models import Lead

log = logging.getLogger(__name__)

_SALT = "intake.unsubscribe.email"
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


class InvalidToken(ValueError):
    """An unsubscribe link that was not made by this service (or was cut short)."""


@dataclass(frozen=True)
class Subscription:
    lead_id: uuid.UUID
    address: str | None
    subscribed: bool
    clinic_name: str
    locale: str = "en"  # the language the lead chose on the form, for the page


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt=_SALT)


def token_for(lead_id: uuid.UUID, settings: Settings) -> str:
    return str(_serializer(settings).dumps(str(lead_id)))


def url_for(lead_id: uuid.UUID, settings: Settings) -> str:
    """The unsubscribe address for a lead's emails (List-Unsubscribe and the email footer)."""
    return f"{settings.public_base_url}/unsubscribe/{token_for(lead_id, settings)}"


def _lead_id(token: str, settings: Settings) -> uuid.UUID:
    try:
        return uuid.UUID(str(_serializer(settings).loads(token)))
    except (BadSignature, ValueError, TypeError):
        raise InvalidToken("this unsubscribe link is not valid") from None


def look_up(db: Database, settings: Settings, token: str) -> Subscription:
    """Who a link unsubscribes and whether they still get email; raises InvalidToken."""
    lead_id = _lead_id(token, settings)
    with db.session() as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise InvalidToken("this unsubscribe link is for a record that no longer exists")
        subscribed = has_consent(session, lead.id, "email")
        return Subscription(lead.id, lead.email, subscribed, settings.clinic_name, lead.locale)


def confirm(
    db: Database, settings: Settings, token: str, how: str, evidence: opt_outs.RequestEvidence
) -> Subscription:
    """Unsubscribe the link's address from email (every lead with it). Commits.

    `how` is "link" (the page's button) or "one-click" (RFC 8058). Idempotent: a second click
    records nothing new. Raises InvalidToken.
    """
    lead_id = _lead_id(token, settings)
    with db.transaction() as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise InvalidToken("this unsubscribe link is for a record that no longer exists")
        if lead.email and has_consent(session, lead.id, "email"):
            cancelled = opt_outs.opt_out_email(session, lead.email, how, evidence, utcnow())
            log.info("lead %s unsubscribed from email (%s); %d cancelled", lead.id, how, cancelled)
        return Subscription(lead.id, lead.email, False, settings.clinic_name, lead.locale)
