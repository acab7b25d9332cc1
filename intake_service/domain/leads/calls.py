"""Calls and notes staff record on a lead, and what they mean for its follow-up."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.domain.leads import events
from intake_service.domain.leads.status import get_lead, set_status
from intake_service.models import CallbackRequest
from intake_service.models.lead_event import CALL_OUTCOMES

MAX_NOTE_CHARS = 5000


class InvalidEntry(ValueError):
    """A call or note that cannot be recorded; the message says why."""


def _clean_note(note: str | None, required: bool = False) -> str | None:
    text = (note or "").strip()
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidEntry(f"a note may have at most {MAX_NOTE_CHARS} characters")
    if required and not text:
        raise InvalidEntry("write something in the note first")
    return text or None


def log_call(
    session: Session,
    lead_id: uuid.UUID,
    outcome: str,
    note: str | None,
    actor: audit.Actor,
    now: dt.datetime,
) -> None:
    """Record a call attempt (not committed); raises UnknownLead or InvalidEntry.

    Reaching the patient is first contact: the lead becomes `contacted` (stopping its
    automated follow-up) and the callbacks owed to it are settled. A wrong number marks the
    phone unusable, so no more texts go to a stranger; voicemail and no answer leave the
    follow-up running, since the nudges help a patient who missed the call.
    """
    if outcome not in CALL_OUTCOMES:
        raise InvalidEntry(f"call outcome must be one of {', '.join(CALL_OUTCOMES)}")
    text = _clean_note(note)
    lead = get_lead(session, lead_id)
    events.record(session, lead_id, "call_logged", actor, now, {"outcome": outcome}, text)
    if outcome == "reached":
        if lead.status == "new":
            set_status(session, lead_id, "contacted", now, actor)
        session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.lead_id == lead_id, CallbackRequest.completed_at.is_(None))
            .values(completed_at=now)
        )
    elif outcome == "wrong_number":
        lead.phone_status = "wrong_number"


def add_note(
    session: Session, lead_id: uuid.UUID, note: str, actor: audit.Actor, now: dt.datetime
) -> None:
    """Add a staff note to the timeline (not committed); raises UnknownLead or InvalidEntry."""
    text = _clean_note(note, required=True)
    get_lead(session, lead_id)
    events.record(session, lead_id, "note_added", actor, now, {}, text)
