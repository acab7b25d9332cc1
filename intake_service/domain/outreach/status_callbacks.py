"""Twilio status callbacks in: each (SID, status) applied once, early ones kept until the SID lands.

A report can arrive before the sending worker has stored the SID Twilio gave it: it is kept as
a PendingStatus and applied the moment the SID lands (delivery_reports.apply_pending, called
when delivery records the send), or by the sweep if a race made that moment miss it.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from intake_service.broker import broker_in_context
from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain.outreach import receipts, scheduler
from intake_service.domain.outreach.delivery_reports import StatusReport, apply, apply_pending
from intake_service.models import Message, PendingStatus

log = logging.getLogger(__name__)

# A pending report whose SID never turns up (a text sent by another system on the same
# account) is kept this long for the worker to catch up, then dropped with a warning.
PENDING_KEPT = dt.timedelta(days=3)

__all__ = ["PENDING_KEPT", "StatusReport", "receive", "sweep_pending"]


def receive(db: Database, settings: Settings, report: StatusReport) -> bool:
    """Record one status callback; False for a repeat of one already handled. Commits."""
    key = f"{report.provider_id}:{report.status}"
    now = utcnow()
    lead_id = None
    try:
        with db.transaction() as session:
            receipts.mark_processed(session, "status", key)
            message = session.scalars(
                select(Message).where(Message.provider_id == report.provider_id).with_for_update()
            ).first()
            if message is None:
                session.add(
                    PendingStatus(
                        provider_id=report.provider_id,
                        status=report.status,
                        error_code=report.error_code,
                        received_at=now,
                    )
                )
            elif apply(session, settings, message, report, now):
                lead_id = message.lead_id
    except IntegrityError:
        if not receipts.was_processed(db, "status", key):
            raise
        return False
    if lead_id is not None:
        # The fallback email is due now: hand it on rather than wait for the next tick.
        scheduler.hand_on_due(db, settings.delivery, lead_id, broker_in_context())
    return True


def sweep_pending(db: Database, settings: Settings) -> int:
    """Apply early reports whose SID has landed since; drop ones too old to ever match. Commits.

    Catches the race the hook cannot: a report stored while the worker was recording its SID.
    Returns how many messages had reports applied.
    """
    now = utcnow()
    with db.transaction() as session:
        ids = session.scalars(
            select(Message.id)
            .join(PendingStatus, PendingStatus.provider_id == Message.provider_id)
            .distinct()
        ).all()
        for message_id in ids:
            message = session.get_one(Message, message_id, with_for_update=True)
            apply_pending(session, settings, message, now)
        dropped = session.execute(
            delete(PendingStatus).where(PendingStatus.received_at < now - PENDING_KEPT)
        )
        count: int = dropped.rowcount  # type: ignore[attr-defined]
        if count:
            log.warning("%d status reports matched no message in %s; dropped", count, PENDING_KEPT)
    return len(ids)
