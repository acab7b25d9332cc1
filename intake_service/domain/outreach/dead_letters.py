"""Dead letters: messages that failed for good, kept with their history, retried or dismissed."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.channels import kind
from intake_service.db import Database, utcnow
from intake_service.domain.compliance.policy import Decision, can_contact
from intake_service.domain.outreach import sequences
from intake_service.models import DeliveryAttempt, Lead, Message, MessageStatus


class NotADeadLetter(LookupError):
    """No failed message has that id."""


class CannotRetry(ValueError):
    """The contact policy would refuse the message again (dead address, opted out, closed...)."""


@dataclass(frozen=True)
class DeadLetter:
    id: int
    lead_id: uuid.UUID | None  # None: a page about a text from a number no lead gave
    audience: str
    channel: str
    template_key: str
    attempts: int
    failed_at: dt.datetime | None
    last_error: str | None
    dismissed: bool
    inbound_message_id: int | None = None

    @property
    def about(self) -> str:
        """Whom it is about: lead <id>, or text <id> (a text from a number no lead gave)."""
        return f"lead {self.lead_id}" if self.lead_id else f"text {self.inbound_message_id}"


@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str | None
    detail: str | None


def _letter(message: Message) -> DeadLetter:
    return DeadLetter(
        id=message.id,
        lead_id=message.lead_id,
        inbound_message_id=message.inbound_message_id,
        audience=message.audience,
        channel=message.channel,
        template_key=message.template_key,
        attempts=message.attempts,
        failed_at=message.failed_at,
        last_error=message.last_error,
        dismissed=message.dismissed_at is not None,
    )


def failed(db: Database, include_dismissed: bool = False) -> list[DeadLetter]:
    """Failed messages, newest first; dismissed ones only when asked."""
    query = select(Message).where(Message.status == MessageStatus.FAILED)
    if not include_dismissed:
        query = query.where(Message.dismissed_at.is_(None))
    with db.session() as session:
        return [_letter(m) for m in session.scalars(query.order_by(Message.failed_at.desc()))]


def history(db: Database, message_id: int) -> tuple[DeadLetter, list[Attempt]]:
    """A failed message and every attempt at it; raises NotADeadLetter."""
    with db.session() as session:
        message = _failed(session, message_id)
        attempts = session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.started_at, DeliveryAttempt.id)
        )
        return _letter(message), [
            Attempt(a.number, a.started_at, a.finished_at, a.outcome, a.detail) for a in attempts
        ]


def retry(db: Database, message_id: int) -> None:
    """Put a failed message back on the schedule, due now, with a fresh retry ladder. Commits.

    Raises NotADeadLetter, or CannotRetry when the contact policy would refuse it: for one, a
    contact point the provider said cannot be used (invalid, or opted out: texting it again
    would break the law, not just fail). The next scheduler tick hands it to a worker.
    """
    now = utcnow()
    with db.transaction() as session:
        message = _failed(session, message_id)
        if message.lead_id is not None:
            lead = session.get_one(Lead, message.lead_id)
            purpose = sequences.purpose_of(lead, message.audience, message.step_key)
            decision = can_contact(session, lead, message.channel, purpose, now)
            if not decision.may_still_go:
                raise CannotRetry(_refusal(message, lead, decision))
        # A page about a text no lead sent goes to staff: no patient rule to ask.
        message.transition(MessageStatus.PLANNED)
        # Attempts keep counting (each is also a claim token); the ladder starts again here.
        message.retry_base = message.attempts
        message.due_at = now
        message.dismissed_at = None


def _refusal(message: Message, lead: Lead, decision: Decision) -> str:
    """Why a retry would be refused, in words an operator acts on (no address, no content)."""
    dead = lead.contact_status(message.channel) if decision.other_channel else None
    if dead is not None:
        noun = kind(message.channel).contact_point
        why = f"the patient's {noun} was marked {dead} by the provider"
    else:
        why = f"the contact policy refuses this message ({decision.reason})"
    return f"{why}; retrying would be suppressed"


def dismiss(db: Database, message_id: int) -> None:
    """Mark a failed message as looked at; it stays failed, with its history. Commits."""
    with db.transaction() as session:
        _failed(session, message_id).dismissed_at = utcnow()


def _failed(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None or message.status != MessageStatus.FAILED:
        raise NotADeadLetter(f"no failed message with id {message_id}")
    return message
