"""Delivery reports applied to a message: queued, sent, delivered, undelivered, failed.

A message is `sent` when Twilio accepted it; only a report says it was delivered. Reports can
arrive out of order (Twilio does not promise order), so a report never moves a message
backwards. Reports that came before the message's SID was stored wait as PendingStatus rows;
delivery calls apply_pending the moment it records the SID.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake_service.channels import Unusable
from intake_service.channels.sms import delivery_error
from intake_service.config import Settings
from intake_service.domain.outreach import failures
from intake_service.models import Lead, Message, MessageStatus, PendingStatus
from intake_service.models.lead_index import has_phone

log = logging.getLogger(__name__)

# Twilio's message statuses in the order a text moves through them; the last group is final.
RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
FINAL = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})
DELIVERED = frozenset({"delivered", "read"})


@dataclass(frozen=True)
class StatusReport:
    provider_id: str  # MessageSid
    status: str  # MessageStatus as Twilio names it
    error_code: int | None = None


def _ahead(current: str | None, new: str) -> bool:
    """True when `new` is news: later than what the message last heard, and not after a final."""
    if current in FINAL:
        return new == "read" and current == "delivered"
    return RANK[new] > RANK.get(current or "", -1)


def _mark_number(
    session: Session, message: Message, lead: Lead, unusable: Unusable, now: dt.datetime
) -> None:
    failures.mark_contact_point(session, message, lead, unusable, now)
    # A landline or a dead number is that for every lead who gave it.
    session.execute(
        update(Lead)
        .where(has_phone(message.recipient), Lead.phone_status.is_(None))
        .values(phone_status=unusable.status)
        .execution_options(synchronize_session=False)
    )


def apply(
    session: Session, settings: Settings, message: Message, report: StatusReport, now: dt.datetime
) -> bool:
    """Apply one report to its message (not committed); True when the text failed for good."""
    if report.status not in RANK:
        log.warning("message %s: unknown Twilio status %r ignored", message.id, report.status)
        return False
    if not _ahead(message.provider_status, report.status):
        return False
    message.provider_status = report.status
    if report.error_code is not None:
        message.error_code = report.error_code
    if report.status in DELIVERED:
        if message.status == MessageStatus.SENT:
            message.transition(MessageStatus.DELIVERED)
            message.delivered_at = now
        return False
    if report.status not in FINAL or message.status != MessageStatus.SENT:
        return False
    reason, unusable = delivery_error(report.error_code)
    undelivered = report.status == "undelivered"
    message.transition(MessageStatus.UNDELIVERED if undelivered else MessageStatus.FAILED)
    message.failed_at = now
    message.last_error = f"{report.status}: {reason} (twilio {report.error_code})"
    lead = session.get_one(Lead, message.lead_id) if message.lead_id is not None else None
    if unusable is not None and message.audience == "patient" and lead is not None:
        _mark_number(session, message, lead, unusable, now)
    if reason == "carrier_filtered":
        # Content or sender registration: nothing a retry fixes, something an operator must.
        log.error("message %s was filtered by the carrier (30007)", message.id)
    log.warning("message %s %s (twilio %s)", message.id, report.status, report.error_code)
    # The other channel gets the step, and the team hears if nobody reached the patient.
    failures.after_failure(session, message, lead, settings, now)
    return True


def apply_pending(session: Session, settings: Settings, message: Message, now: dt.datetime) -> None:
    """Apply the reports that came before the message's SID was stored (not committed)."""
    if not message.provider_id:
        return
    pending = session.scalars(
        select(PendingStatus)
        .where(PendingStatus.provider_id == message.provider_id)
        .with_for_update(skip_locked=True)
    ).all()
    for row in sorted(pending, key=lambda p: (RANK.get(p.status, -1), p.received_at, p.id)):
        apply(
            session,
            settings,
            message,
            StatusReport(row.provider_id, row.status, row.error_code),
            now,
        )
        session.delete(row)
    if pending:
        log.info("message %s: %d early status reports applied", message.id, len(pending))
