"""The call a patient asked for by text: one open request per lead, moved when they name a
new time, and read back in words for the team.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from intake_service.domain.leads.callback_times import CallbackAsk
from intake_service.models import CallbackRequest, Lead

# Read for every team email: built once, with the lead as a parameter.
_OPEN_PATIENT_CALLBACK = (
    select(CallbackRequest)
    .where(
        CallbackRequest.lead_id == bindparam("lead_id"),
        CallbackRequest.origin == "patient",
        CallbackRequest.completed_at.is_(None),
    )
    .order_by(CallbackRequest.created_at.desc())
    .limit(1)
)


def open_patient_callback(session: Session, lead_id: uuid.UUID) -> CallbackRequest | None:
    return session.scalars(_OPEN_PATIENT_CALLBACK, {"lead_id": lead_id}).first()


def request_callback(
    session: Session, lead: Lead, ask: CallbackAsk, now: dt.datetime
) -> CallbackRequest:
    """Create the patient's callback request, or move the open one to the new time (not
    committed): a patient who says "morning" and then "actually after 5" has one call owed.
    """
    callback = open_patient_callback(session, lead.id)
    if callback is None:
        callback = CallbackRequest(
            lead_id=lead.id, created_at=now, origin="patient", assignee_id=lead.assignee_id
        )
        session.add(callback)
    callback.due_at = ask.due_at
    callback.window = ask.window
    session.flush()
    return callback


def open_callback_label(session: Session, lead_id: uuid.UUID, zone: str) -> str | None:
    """When the patient asked to be called, in words for the team, or None if they did not."""
    callback = open_patient_callback(session, lead_id)
    if callback is None:
        return None
    if callback.due_at is None:
        return "as soon as possible"
    local = callback.due_at.astimezone(zoneinfo.ZoneInfo(zone))
    window = f", {callback.window}" if callback.window and callback.window != "any" else ""
    return f"{local:%a %d %b, %H:%M %Z}{window}"
