"""Opt-outs and opt-ins a person gives after the form: STOP and START by text, unsubscribe by email.

An opt-out is the person's, not one lead's: every lead with that number (or address) gets the
consent event, every planned message on that channel to it is cancelled at once, and a number
stays blocked for new leads too until it texts START (Twilio blocks it the same way, 21610).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from intake_service.channels import kind
from intake_service.models import (
    ConsentEvent,
    Lead,
    Message,
    MessageStatus,
    PhoneOptOut,
    lead_index,
)
from intake_service.models.message import can_move_to

log = logging.getLogger(__name__)

# Each wording is what the ledger says happened; the evidence is the linked inbound text, or
# the address and browser of the unsubscribe request.
KEYWORD_OPT_OUT = ("sms-keyword-opt-out", "The person texted an opt-out keyword ({word}).")
KEYWORD_OPT_IN = (
    "sms-keyword-opt-in",
    "The person texted an opt-in keyword ({word}) and agreed to receive texts again.",
)
EMAIL_UNSUBSCRIBE = (
    "email-unsubscribe",
    "The person asked to receive no more email through the unsubscribe link ({how}).",
)
# Messages an opt-out cancels: not yet claimed by a worker. One already `sending` is past its
# checks and may be at the provider; cancelling it under the worker would hide a real send.
_CANCELLABLE = tuple(
    s for s in can_move_to(MessageStatus.CANCELLED) if s in can_move_to(MessageStatus.SENDING)
)


@dataclass(frozen=True)
class RequestEvidence:
    """Where an unsubscribe request came from."""

    ip: str | None
    user_agent: str | None


def leads_with_phone(session: Session, phone: str) -> list[Lead]:
    """Every lead that gave this number, newest first (found through the blind index)."""
    return list(session.scalars(lead_index.leads_with_phone(phone)))


def leads_with_email(session: Session, address: str) -> list[Lead]:
    """Every lead that gave this address (compared without case), newest first."""
    return list(session.scalars(lead_index.leads_with_email(address)))


def number_opted_out(session: Session, phone: str | None) -> bool:
    """True when `phone` texted STOP (or Twilio said so) and has not texted START since."""
    if not phone:
        return False
    return session.scalar(_OPTED_OUT, {"phone": phone}) is not None


# Asked for every text planned and sent: built once.
_OPTED_OUT = select(PhoneOptOut.id).where(PhoneOptOut.phone == bindparam("phone"))


def blocked(session: Session, channel: str, address: str | None) -> bool:
    """True when `address` opted out by keyword for this kind of message: a phone that texted
    STOP. Email opt-outs are the consent ledger's (has_consent), so none is blocked here.
    """
    return kind(channel).keyword_opt_outs and number_opted_out(session, address)


def _cancel_planned(
    session: Session, channel: str, recipients: list[str], reason: str, now: dt.datetime
) -> int:
    if not recipients:
        return 0
    result = session.execute(
        update(Message)
        .where(
            Message.channel == channel,
            Message.audience == "patient",
            Message.recipient.in_(recipients),
            Message.status.in_(_CANCELLABLE),
        )
        .values(status=MessageStatus.CANCELLED, last_error=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count


def _event(
    lead_id: uuid.UUID,
    contact_point: str | None,
    channel: str,
    action: str,
    wording: tuple[str, str],
    source: str,
    now: dt.datetime,
    inbound_message_id: int | None = None,
    evidence: RequestEvidence | None = None,
    **words: str,
) -> ConsentEvent:
    version, text = wording
    return ConsentEvent(
        lead_id=lead_id,
        contact_point=contact_point,
        channel=channel,
        action=action,
        occurred_at=now,
        wording_version=version,
        wording=text.format(**words),
        source=source,
        inbound_message_id=inbound_message_id,
        ip=evidence.ip if evidence else None,
        user_agent=evidence.user_agent if evidence else None,
    )


def opt_out_number(
    session: Session, phone: str, word: str, inbound_message_id: int, now: dt.datetime
) -> int:
    """Record a texted opt-out for every lead with `phone`, block the number and cancel every
    planned text to it (not committed). Returns how many texts were cancelled.
    """
    if not number_opted_out(session, phone):
        session.add(
            PhoneOptOut(
                phone=phone, since=now, source="sms_keyword", inbound_message_id=inbound_message_id
            )
        )
    for lead in leads_with_phone(session, phone):
        session.add(
            _event(
                lead.id,
                phone,
                "sms",
                "opt_out",
                KEYWORD_OPT_OUT,
                "sms_keyword",
                now,
                inbound_message_id,
                word=word,
            )
        )
    cancelled = _cancel_planned(session, "sms", [phone], "opted_out", now)
    session.flush()
    log.info(
        "number opted out by keyword (inbound %s): %d texts cancelled",
        inbound_message_id,
        cancelled,
    )
    return cancelled


def opt_in_number(
    session: Session, phone: str, word: str, inbound_message_id: int, now: dt.datetime
) -> int:
    """Record a texted opt-in for every lead with `phone` and unblock it (not committed).

    Returns how many leads were re-subscribed. Texts cancelled by the opt-out stay cancelled:
    a follow-up written for last week is not sent late; new ones follow the sequence.
    """
    session.execute(delete(PhoneOptOut).where(PhoneOptOut.phone == phone))
    leads = leads_with_phone(session, phone)
    for lead in leads:
        session.add(
            _event(
                lead.id,
                phone,
                "sms",
                "opt_in",
                KEYWORD_OPT_IN,
                "sms_keyword",
                now,
                inbound_message_id,
                word=word,
            )
        )
        if lead.phone_status == "opted_out":
            lead.phone_status = None  # Twilio lifts its own block on START as well
    session.flush()
    return len(leads)


def block_for_provider(session: Session, channel: str, address: str, now: dt.datetime) -> None:
    """The provider refused a message because the person opted out with it (Twilio 21610):
    block the address here as a texted STOP would (not committed). Texts only: email opt-outs
    are the consent ledger's alone.
    """
    if kind(channel).keyword_opt_outs and not number_opted_out(session, address):
        session.add(PhoneOptOut(phone=address, since=now, source="provider"))
        session.flush()


def opt_out_email(
    session: Session, address: str, how: str, evidence: RequestEvidence, now: dt.datetime
) -> int:
    """Unsubscribe every lead with `address` from email and cancel planned patient emails to
    it (not committed). `how` is "link" or "one-click". Returns how many emails were cancelled.
    """
    leads = leads_with_email(session, address)
    for lead in leads:
        session.add(
            _event(
                lead.id,
                lead.email,
                "email",
                "opt_out",
                EMAIL_UNSUBSCRIBE,
                f"email_{how}",
                now,
                evidence=evidence,
                how=how,
            )
        )
    recipients = sorted({lead.email for lead in leads if lead.email})
    cancelled = _cancel_planned(session, "email", recipients, "unsubscribed", now)
    session.flush()
    return cancelled
