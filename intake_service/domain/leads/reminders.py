"""Callback reminders: when a scheduled callback comes due, its assignee gets one email.

The due times are rows (callback_requests.due_at) swept by beat, not Celery countdowns,
which a broker restart would lose. `reminded_at` makes each reminder go once, whichever
beat or worker runs the sweep. The email goes through the ordinary delivery path (a team
Message) and says only that a callback is due, with the link: no health detail.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain.outreach import sequences
from intake_service.models import CallbackRequest, Lead, Message, User

log = logging.getLogger(__name__)

TEMPLATE = "team_callback_due"
STEP = "callback_due"
BATCH = 100
# Leads nobody works any more get no reminder (the callback is still marked as reminded).
QUIET_STATUSES = ("closed", "spam")


def recipients(session: Session, callback: CallbackRequest, settings: Settings) -> list[str]:
    """The assignee's address if they can still take it, else the whole team."""
    user = session.get(User, callback.assignee_id) if callback.assignee_id else None
    if user is not None and user.active:
        return [user.email]
    return list(settings.team_emails)


def sweep(db: Database, settings: Settings, now: dt.datetime | None = None) -> int:
    """Plan a reminder for every callback now due and not reminded yet. Commits.

    `now` decides what is due (tests pass a clock); the emails are due at once. Returns how
    many callbacks were reminded.
    """
    now = now or utcnow()
    reminded = 0
    with db.transaction() as session:
        due = session.scalars(
            select(CallbackRequest)
            .where(
                CallbackRequest.completed_at.is_(None),
                CallbackRequest.reminded_at.is_(None),
                CallbackRequest.due_at.is_not(None),
                CallbackRequest.due_at <= now,
            )
            .order_by(CallbackRequest.due_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for callback in due:
            callback.reminded_at = now
            lead = session.get(Lead, callback.lead_id)
            if lead is None or lead.status in QUIET_STATUSES:
                continue
            for recipient in recipients(session, callback, settings):
                _plan(session, callback, recipient, utcnow())
            reminded += 1
            log.info("callback %s due; reminder planned", callback.id)
    return reminded


def _plan(session: Session, callback: CallbackRequest, recipient: str, now: dt.datetime) -> None:
    # One plan key per callback and recipient: a second sweep cannot plan it twice.
    plan_key = sequences.plan_key_for(f"{STEP}{callback.id}", "team", "email", recipient)
    exists = session.scalar(
        select(Message.id).where(Message.lead_id == callback.lead_id, Message.plan_key == plan_key)
    )
    if exists is not None:
        return
    session.add(
        Message(
            lead_id=callback.lead_id,
            plan_key=plan_key,
            step_key=STEP,
            audience="team",
            channel="email",
            template_key=TEMPLATE,
            recipient=recipient,
            due_at=now,
            created_at=now,
        )
    )
    session.flush()
