"""Deliver one message: claim it, re-check it, render it, send it, record what happened.

The claim is a compare-and-set on the status, so two workers holding the same id cannot both
send. The claim is committed before the provider is called: a message left in `sending` by a
dead worker is visible, not silently resent.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake_service.channels import OutgoingMessage, PermanentError, TransientError, get_channel
from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain import message_context
from intake_service.domain.consent import has_consent
from intake_service.domain.templates import TemplateMissing, as_source, current_version
from intake_service.models import Lead, Message, MessageStatus
from intake_service.models.message import SENDABLE
from intake_service.rendering import RenderError, render

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = dt.timedelta(seconds=10)
BACKOFF_CAP = dt.timedelta(minutes=30)
# Leads that no longer want, or no longer need, messages from the sequence.
CLOSED_LEAD_STATUSES = ("closed", "spam")


@dataclass(frozen=True)
class Outcome:
    status: str  # the message's status after this attempt, or "skipped"
    detail: str = ""


def backoff(attempts: int, retry_after: float | None = None) -> dt.timedelta:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    ceiling = min(BACKOFF_BASE * 2 ** max(0, attempts - 1), BACKOFF_CAP)
    delay = dt.timedelta(
        # Jitter spreads retries out; it needs no cryptographic randomness.
        seconds=random.uniform(ceiling.total_seconds() / 2, ceiling.total_seconds())  # noqa: S311
    )
    if retry_after is not None:
        delay = max(delay, dt.timedelta(seconds=retry_after))
    return delay


def _claim(session: Session, message_id: int, now: dt.datetime) -> bool:
    claimed = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status.in_(SENDABLE), Message.due_at <= now)
        .values(
            status=MessageStatus.SENDING,
            attempts=Message.attempts + 1,
            sending_started_at=now,
            updated_at=now,
        )
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def _suppression_reason(session: Session, message: Message, lead: Lead) -> str | None:
    """Why this message must not go out now, re-checked at send time: the world may have changed."""
    if message.audience == "team":
        return None
    if lead.status in CLOSED_LEAD_STATUSES:
        return f"lead_{lead.status}"
    if not has_consent(session, lead.id, message.channel):
        return "no_consent"
    return None


def _prepare(
    session: Session, message: Message, lead: Lead, settings: Settings, now: dt.datetime
) -> OutgoingMessage:
    version = current_version(session, message.template_key, message.channel)
    if message_context.audience(message.template_key) == "team":
        context = message_context.team_context(lead, settings, now)
    else:
        context = message_context.patient_context(lead, settings)
    rendered = render(as_source(version), context)
    message.template_version_id = version.id
    message.subject = rendered.subject
    message.body_text = rendered.body_text
    # No StatusCallback yet: /webhooks/twilio/status arrives with the webhooks issue, and
    # Twilio would otherwise post delivery reports to an address that answers 404.
    return OutgoingMessage(
        message_id=message.id,
        channel=message.channel,
        recipient=message.recipient,
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
    )


def deliver(db: Database, settings: Settings, message_id: int) -> Outcome:
    """Send one due message if it is still sendable; safe to call twice. Commits."""
    now = utcnow()
    with db.transaction() as session:
        if not _claim(session, message_id, now):
            return Outcome("skipped", "not due, or not in a sendable state")
        message = session.get_one(Message, message_id)
        lead = session.get_one(Lead, message.lead_id)
        reason = _suppression_reason(session, message, lead)
        if reason is not None:
            message.transition(MessageStatus.SUPPRESSED)
            message.last_error = reason
            return Outcome(MessageStatus.SUPPRESSED, reason)
        try:
            outgoing = _prepare(session, message, lead, settings, now)
        except (TemplateMissing, RenderError) as error:
            # Nothing can fix this but an admin; keep it visible as a failure.
            message.transition(MessageStatus.FAILED)
            message.last_error = f"template: {error}"
            message.failed_at = now
            log.error("message %s failed to render: %s", message_id, type(error).__name__)
            return Outcome(MessageStatus.FAILED, "template")

    channel = get_channel(outgoing.channel, settings, db)
    try:
        provider_id = channel.send(outgoing)
    except TransientError as error:
        return _record_transient(db, message_id, error)
    except PermanentError as error:
        return _record_failure(db, message_id, error.reason)
    with db.transaction() as session:
        message = session.get_one(Message, message_id)
        message.transition(MessageStatus.SENT)
        message.provider_id = provider_id
        message.sent_at = utcnow()
        message.last_error = None
    log.info("message %s sent via %s", message_id, outgoing.channel)
    return Outcome(MessageStatus.SENT, provider_id)


def _record_transient(db: Database, message_id: int, error: TransientError) -> Outcome:
    with db.transaction() as session:
        message = session.get_one(Message, message_id)
        message.last_error = error.reason
        if message.attempts >= MAX_ATTEMPTS:
            message.transition(MessageStatus.FAILED)
            message.failed_at = utcnow()
            log.warning("message %s failed after %d attempts", message_id, message.attempts)
            return Outcome(MessageStatus.FAILED, error.reason)
        # Back to the schedule, not to the broker: the wait lives in the database.
        message.transition(MessageStatus.PLANNED)
        message.due_at = utcnow() + backoff(message.attempts, error.retry_after)
    log.info("message %s will be retried (%s)", message_id, error.reason)
    return Outcome(MessageStatus.PLANNED, error.reason)


def _record_failure(db: Database, message_id: int, reason: str) -> Outcome:
    with db.transaction() as session:
        message = session.get_one(Message, message_id)
        message.transition(MessageStatus.FAILED)
        message.last_error = reason
        message.failed_at = utcnow()
    log.warning("message %s failed permanently (%s)", message_id, reason)
    return Outcome(MessageStatus.FAILED, reason)


# --- handing due messages to workers -------------------------------------------------------

DISPATCH_BATCH = 200
# A message queued this long ago and still not sent lost its broker copy; queue it again.
REQUEUE_AFTER = dt.timedelta(minutes=5)


def claim_due(db: Database, lead_id: uuid.UUID | None = None) -> list[int]:
    """Mark due messages (of one lead, or all) queued and return their ids. Commits.

    On PostgreSQL concurrent schedulers skip each other's rows (SKIP LOCKED); SQLite has one
    writer at a time, and the status compare-and-set in deliver() guards against any overlap.
    """
    now = utcnow()
    due = ((Message.status == MessageStatus.PLANNED) & (Message.due_at <= now)) | (
        (Message.status == MessageStatus.QUEUED) & (Message.queued_at < now - REQUEUE_AFTER)
    )
    if lead_id is not None:
        due = due & (Message.lead_id == lead_id)
    with db.transaction() as session:
        ids = list(
            session.scalars(
                select(Message.id)
                .where(due)
                .order_by(Message.due_at)
                .limit(DISPATCH_BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(
                update(Message)
                .where(Message.id.in_(ids))
                .values(status=MessageStatus.QUEUED, queued_at=now, updated_at=now)
            )
    return ids


def hand_to_workers(message_ids: list[int]) -> int:
    """Put message ids on the broker; a failure leaves them queued for the next requeue."""
    from intake_service import tasks

    sent = 0
    for message_id in message_ids:
        try:
            tasks.deliver.apply_async(args=[message_id])
        except Exception as error:  # broker down: the requeue sweep will try again
            log.warning("message %s not handed to a worker (%s)", message_id, type(error).__name__)
            continue
        sent += 1
    return sent
