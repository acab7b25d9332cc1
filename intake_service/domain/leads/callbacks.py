"""Callbacks owed to patients: scheduled by staff, or asked for by the patient."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.domain.leads import events
from intake_service.domain.leads.status import get_lead
from intake_service.models import CallbackRequest, Lead, User

MAX_AHEAD = dt.timedelta(days=90)


class InvalidCallback(ValueError):
    """A callback that cannot be scheduled or closed; the message says why."""


def schedule(
    session: Session,
    lead_id: uuid.UUID,
    due_at: dt.datetime,
    actor: audit.Actor,
    now: dt.datetime,
    note: str | None = None,
) -> CallbackRequest:
    """Promise the patient a call at `due_at` (not committed); raises UnknownLead, InvalidCallback.

    It goes to the lead's assignee, or to whoever scheduled it when the lead has none.
    """
    if due_at.tzinfo is None:
        raise InvalidCallback("a callback time needs a time zone")
    if due_at < now - dt.timedelta(minutes=5):
        raise InvalidCallback("that time has already passed")
    if due_at > now + MAX_AHEAD:
        raise InvalidCallback("a callback can be at most 90 days ahead")
    lead = get_lead(session, lead_id)
    callback = CallbackRequest(
        lead_id=lead_id,
        created_at=now,
        origin="staff",
        due_at=due_at,
        created_by_id=actor.id,
        assignee_id=lead.assignee_id or actor.id,
    )
    session.add(callback)
    session.flush()
    data = {"callback_id": callback.id, "due_at": due_at.isoformat()}
    events.record(
        session, lead_id, "callback_scheduled", actor, now, data, (note or "").strip() or None
    )
    return callback


def complete(session: Session, callback_id: int, actor: audit.Actor, now: dt.datetime) -> uuid.UUID:
    """Mark a callback done (not committed); returns its lead id. Raises InvalidCallback."""
    callback = session.get(CallbackRequest, callback_id)
    if callback is None:
        raise InvalidCallback("there is no such callback")
    if callback.completed_at is None:
        callback.completed_at = now
        data = {"callback_id": callback.id}
        events.record(session, callback.lead_id, "callback_done", actor, now, data)
    return callback.lead_id


@dataclass(frozen=True)
class DueCallback:
    id: int
    lead_id: uuid.UUID
    name: str
    phone: str | None
    origin: str
    window: str | None
    due_at: dt.datetime | None  # in the clinic's zone
    overdue: bool
    assignee: str | None


def open_callbacks(
    session: Session, zone: str, now: dt.datetime, lead_id: uuid.UUID | None = None
) -> list[DueCallback]:
    """Callbacks not yet done: overdue and as-soon-as-possible first, then by time."""
    tz = zoneinfo.ZoneInfo(zone)
    query = (
        select(CallbackRequest, Lead, User)
        .join(Lead, Lead.id == CallbackRequest.lead_id)
        .outerjoin(User, User.id == CallbackRequest.assignee_id)
        .where(CallbackRequest.completed_at.is_(None), Lead.status.not_in(("closed", "spam")))
    )
    if lead_id is not None:
        query = query.where(CallbackRequest.lead_id == lead_id)
    rows = []
    for callback, lead, user in session.execute(query):
        overdue = callback.due_at is None or callback.due_at <= now
        rows.append(
            DueCallback(
                id=callback.id,
                lead_id=lead.id,
                name=lead.full_name,
                phone=lead.phone,
                origin=callback.origin,
                window=callback.window or lead.callback_window,
                due_at=callback.due_at.astimezone(tz) if callback.due_at else None,
                overdue=overdue,
                assignee=user.label if user else None,
            )
        )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    rows.sort(key=lambda r: (not r.overdue, r.due_at is not None, r.due_at or far))
    return rows
