"""Consent wording, versioned, and the evidence recorded when a person agrees."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Select, select
from sqlalchemy.orm import Session

from intake_service.models import ConsentEvent, Lead

# Each wording ever shown keeps its version forever: the ledger refers to it as proof.
# Change the words by adding a new version and pointing CURRENT_* at it.
# A translation is a wording of its own, with its own version, written here rather than in the
# pages' catalogue: a catalogue entry can be reworded, a version's words never change.
SMS_WORDINGS = {
    "sms-2026-11": (
        "Yes, text me at this number about my inquiry, including a callback request and "
        "information about treatment. Message frequency varies; message and data rates may "
        "apply. Reply STOP to opt out, HELP for help. Consent is not a condition of treatment."
    ),
    "sms-2026-12-es": (
        "Sí, envíenme mensajes de texto a este número sobre mi consulta, incluidas una solicitud "
        "de llamada e información sobre el tratamiento. La frecuencia de los mensajes varía; "
        "pueden aplicarse tarifas de mensajes y datos. Responda STOP o PARAR para cancelarlos, "
        "HELP o AYUDA para recibir ayuda. El consentimiento no es una condición para recibir "
        "tratamiento."
    ),
}
# Opt-outs need no wording of ours: they record what the person (or the provider) told us.
OPT_OUT_WORDINGS = {
    "provider": "The messaging provider reported that this number has opted out (Twilio 21610).",
}
EMAIL_WORDINGS = {
    "email-2026-11": (
        "By sending this form I agree to be emailed about my inquiry. "
        "I can unsubscribe at any time."
    ),
    "email-2026-12-es": (
        "Al enviar este formulario, acepto recibir correos electrónicos sobre mi consulta. "
        "Puedo darme de baja en cualquier momento."
    ),
}
CURRENT_SMS_WORDING = "sms-2026-11"
CURRENT_EMAIL_WORDING = "email-2026-11"
# The wording a page in each language shows (English for any other); the English ones above
# stay the default for the API and the form builders, which show their own page's words.
CURRENT_SMS_WORDINGS = {"en": CURRENT_SMS_WORDING, "es": "sms-2026-12-es"}
CURRENT_EMAIL_WORDINGS = {"en": CURRENT_EMAIL_WORDING, "es": "email-2026-12-es"}
WORDINGS = {"sms": SMS_WORDINGS, "email": EMAIL_WORDINGS}


def current_sms_wording(locale: str) -> str:
    """The version of the SMS consent wording a page in `locale` shows."""
    return CURRENT_SMS_WORDINGS.get(locale, CURRENT_SMS_WORDING)


def current_email_wording(locale: str) -> str:
    """The version of the email consent wording a page in `locale` shows."""
    return CURRENT_EMAIL_WORDINGS.get(locale, CURRENT_EMAIL_WORDING)


def wording_locale(version: str) -> str:
    """The language a wording version is written in ("en" unless it says otherwise)."""
    return "es" if version.endswith("-es") else "en"


class UnknownWording(ValueError):
    """A consent wording version the service never showed."""


@dataclass(frozen=True)
class ConsentEvidence:
    """Where and how consent was given: stored with every opt-in."""

    source: str  # "web_form" | "api"
    ip: str | None
    user_agent: str | None
    occurred_at: dt.datetime


def wording(channel: str, version: str) -> str:
    """The exact words of a wording version; raises UnknownWording."""
    try:
        return WORDINGS[channel][version]
    except KeyError:
        raise UnknownWording(f"unknown {channel} consent wording {version!r}") from None


def record_opt_in(
    session: Session, lead_id: uuid.UUID, channel: str, version: str, evidence: ConsentEvidence
) -> ConsentEvent:
    """Add an opt-in to the ledger (not committed); raises UnknownWording."""
    event = ConsentEvent(
        **opt_in_row(lead_id, channel, _address(session, lead_id, channel), version, evidence)
    )
    session.add(event)
    return event


def opt_in_row(
    lead_id: uuid.UUID,
    channel: str,
    address: str | None,
    version: str,
    evidence: ConsentEvidence,
) -> dict[str, Any]:
    """The ledger row of an opt-in to `address` (intake inserts it with the lead, without the
    ORM); raises UnknownWording."""
    return {
        "lead_id": lead_id,
        "channel": channel,
        "contact_point": address,
        "action": "opt_in",
        "occurred_at": evidence.occurred_at,
        "wording_version": version,
        "wording": wording(channel, version),
        "source": evidence.source,
        "ip": evidence.ip,
        "user_agent": evidence.user_agent,
    }


def latest_action(lead_id: uuid.UUID | BindParameter[Any], channel: str) -> Select[str]:
    """The query of the lead's latest consent action for `channel` ("opt_in" | "opt_out"),
    also usable as a column of a larger query (delivery reads it with the lead)."""
    return (
        select(ConsentEvent.action)
        .where(ConsentEvent.lead_id == lead_id, ConsentEvent.channel == channel)
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())
        .limit(1)
    )


def has_consent(session: Session, lead_id: uuid.UUID, channel: str) -> bool:
    """True when the lead's latest consent event for `channel` is an opt-in."""
    return session.scalars(latest_action(lead_id, channel)).first() == "opt_in"


def record_opt_out(
    session: Session, lead_id: uuid.UUID, channel: str, source: str, occurred_at: dt.datetime
) -> ConsentEvent:
    """Add an opt-out to the ledger (not committed); every later send re-checks the ledger."""
    event = ConsentEvent(
        lead_id=lead_id,
        channel=channel,
        contact_point=_address(session, lead_id, channel),
        action="opt_out",
        occurred_at=occurred_at,
        wording_version=f"opt-out-{source}",
        wording=OPT_OUT_WORDINGS.get(source, "The person asked not to be contacted."),
        source=source,
    )
    session.add(event)
    return event


def _address(session: Session, lead_id: uuid.UUID, channel: str) -> str | None:
    """The address the event is about, stored with it so the proof outlives the lead."""
    lead = session.get(Lead, lead_id)
    return lead.address(channel) if lead is not None else None


@dataclass(frozen=True)
class ConsentRecord:
    """One entry of a lead's consent history, as the staff app shows it."""

    occurred_at: dt.datetime
    channel: str
    action: str  # "opt_in" | "opt_out"
    source: str  # "web_form" | "api" | "sms_keyword" | "provider" | "email_link" | ...
    wording_version: str
    wording: str
    ip: str | None
    user_agent: str | None
    contact_point: str | None  # the phone or address it was about
    inbound_message_id: int | None  # the text that carried a keyword, when one did


def history(session: Session, lead_id: uuid.UUID) -> list[ConsentRecord]:
    """Every consent event of the lead, oldest first: the proof of what they agreed to, when."""
    events = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.lead_id == lead_id)
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    )
    return [
        ConsentRecord(
            occurred_at=e.occurred_at,
            channel=e.channel,
            action=e.action,
            source=e.source,
            wording_version=e.wording_version,
            wording=e.wording,
            ip=e.ip,
            user_agent=e.user_agent,
            contact_point=e.contact_point,
            inbound_message_id=e.inbound_message_id,
        )
        for e in events
    ]
