"""Messages in any status, with the delivery attempts that status implies."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from intake_service.db import utcnow
from intake_service.domain.outreach.sequences import plan_key_for
from intake_service.models import DeliveryAttempt, Lead, Message, MessageStatus
from tests.support.factories.base import LeadRef, Target, counter, id_of, writing

TEAM_EMAIL = "team@sunrise.example"

S = MessageStatus
# How many claims a message in each status has had, unless told: a cancelled step was never
# claimed (the sequence stopped first); a suppressed one was, and was stopped at send time.
DEFAULT_ATTEMPTS = {
    S.PLANNED: 0,
    S.QUEUED: 0,
    S.SENDING: 1,
    S.SENT: 1,
    S.DELIVERED: 1,
    S.FAILED: 1,
    S.UNDELIVERED: 1,
    S.SUPPRESSED: 1,
    S.CANCELLED: 0,
}
RENDERED = (S.SENDING, S.SENT, S.DELIVERED, S.FAILED, S.UNDELIVERED)
AT_THE_PROVIDER = (S.SENT, S.DELIVERED, S.UNDELIVERED)
FAILURE_REASONS = {"email": "recipient_rejected", "sms": "invalid_number"}
BODIES = {
    "email": "Thank you for reaching out to the clinic.",
    "sms": "Thanks for contacting the clinic.",
}


def _recipient(session: Session, lead_id: uuid.UUID, audience: str, channel: str) -> str:
    if audience == "team":
        return TEAM_EMAIL
    row = session.get_one(Lead, lead_id)
    address = row.phone if channel == "sms" else row.email
    if address is None:
        raise ValueError(f"lead {lead_id} has no {channel} contact point: give a recipient")
    return address


def _state(status: MessageStatus, channel: str, due_at: dt.datetime) -> dict[str, Any]:
    """The columns a message in `status` has when it got there the ordinary way."""
    sent_at = due_at + dt.timedelta(seconds=2)
    values: dict[str, Any] = {"attempts": DEFAULT_ATTEMPTS[status]}
    if status != S.PLANNED:
        values["queued_at"] = due_at
    if status in RENDERED:
        values["sending_started_at"] = due_at
        values["body_text"] = BODIES[channel]
        if channel == "email":
            values["subject"] = "Thanks for contacting the clinic"
    if status in AT_THE_PROVIDER:
        values["sent_at"] = sent_at
        if channel == "sms":
            values["provider_id"] = "SM" + secrets.token_hex(16)
    if status == S.DELIVERED:
        values["delivered_at"] = sent_at + dt.timedelta(seconds=5)
    if status == S.UNDELIVERED:
        values["last_error"] = "twilio_30003"
    if status == S.FAILED:
        values["failed_at"] = sent_at
        values["last_error"] = FAILURE_REASONS[channel]
    if status == S.SUPPRESSED:
        values["last_error"] = "no_consent"
    if status == S.CANCELLED:
        values["last_error"] = "sequence stopped: contacted"
    return values


def message(
    target: Target,
    lead: LeadRef,
    status: str = "sent",
    *,
    history: bool = True,
    **fields: Any,
) -> Message:
    """A message in `status`, with the columns that status implies and its attempt rows.

    Defaults: the patient's first-contact text, due now, to the lead's phone (an email to
    its email, a team message to TEAM_EMAIL); a ValueError if the lead lacks that contact
    point and no recipient is given. A message past the provider has a provider id and a sent
    time, a failed one a reason and a failed time, a rendered one a body; any column can be
    given, e.g. message(s, lead, "failed", last_error="21211 invalid To"). `history` writes
    one DeliveryAttempt per claim (see `attempt_history`). plan_key is unique per call: pass
    plan_key=sequences.plan_key_for(...) to stand for what planning would add.
    """
    state = MessageStatus(status)
    lead_id = id_of(lead)
    audience = fields.get("audience", "patient")
    channel = fields.get("channel", "sms")
    due_at = fields.get("due_at", utcnow())
    with writing(target) as session:
        recipient = fields.get("recipient") or _recipient(session, lead_id, audience, channel)
        step_key = fields.get("step_key", "first")
        planned_as = plan_key_for(step_key, audience, channel, recipient)
        values: dict[str, Any] = {
            "lead_id": lead_id,
            "plan_key": f"{planned_as}:{next(counter)}",
            "step_key": step_key,
            "audience": audience,
            "channel": channel,
            "template_key": "team_new_lead" if audience == "team" else "patient_first_reply",
            "recipient": recipient,
            "status": state,
            "due_at": due_at,
            "created_at": min(due_at, utcnow()),
            "retry_base": 0,
            "needs_reconcile": False,
            **_state(state, channel, due_at),
        }
        values.update(fields)
        values.setdefault("updated_at", values["created_at"])
        row = Message(**values)
        session.add(row)
        session.flush()
        if state in AT_THE_PROVIDER and row.provider_id is None:
            # What the SMTP channel records: our own Message-ID header.
            row.provider_id = f"<intake-message-{row.id}@sunrise.example>"
        if history:
            session.add_all(attempt_history(row))
    return row


def attempt_history(row: Message) -> list[DeliveryAttempt]:
    """One finished attempt per earlier claim, and the last one as the status implies.

    Earlier claims failed transiently; the last is open while `sending`, `abandoned` when the
    message waits for reconciliation, `sent` once at the provider, `permanent` for a failure
    on the first try (`transient` after several), and `suppressed` or `cancelled` likewise.
    """
    last_outcome = {
        S.SENDING: None,
        S.SENT: "sent",
        S.DELIVERED: "sent",
        S.UNDELIVERED: "sent",
        S.FAILED: "permanent" if row.attempts == 1 else "transient",
        S.SUPPRESSED: "suppressed",
        S.CANCELLED: "cancelled",
        S.PLANNED: "transient",
        S.QUEUED: "abandoned" if row.needs_reconcile else "transient",
    }[MessageStatus(row.status)]
    last_start = row.sending_started_at or row.due_at
    attempts = []
    for number in range(1, row.attempts + 1):
        started = last_start - dt.timedelta(minutes=row.attempts - number)
        outcome = last_outcome if number == row.attempts else "transient"
        detail = {
            None: None,
            "sent": None,
            "transient": row.last_error or "timeout",
            "abandoned": "worker lost mid-send",
        }.get(outcome, row.last_error)
        attempts.append(
            DeliveryAttempt(
                message_id=row.id,
                number=number,
                started_at=started,
                finished_at=None if outcome is None else started + dt.timedelta(seconds=1),
                outcome=outcome,
                detail=detail,
                provider_id=row.provider_id if outcome == "sent" else None,
            )
        )
    return attempts


def delivery_attempt(target: Target, message: Message | int, **fields: Any) -> DeliveryAttempt:
    """One more attempt row for the message: numbered after the last, started now, still open."""
    message_id = message.id if isinstance(message, Message) else message
    with writing(target) as session:
        last = session.scalar(
            sa.select(sa.func.max(DeliveryAttempt.number)).where(
                DeliveryAttempt.message_id == message_id
            )
        )
        values = {"message_id": message_id, "number": (last or 0) + 1, "started_at": utcnow()}
        values.update(fields)
        row = DeliveryAttempt(**values)
        session.add(row)
    return row
