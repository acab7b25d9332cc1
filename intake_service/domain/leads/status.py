"""A lead's status, and what changing it means for its follow-up."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.domain.intake import spam
from intake_service.domain.leads import events
from intake_service.domain.outreach import sequences
from intake_service.models import Lead, LeadEvent
from intake_service.models.lead import LEAD_STATUSES

# Once a person has reached the lead, or the lead is closed, automated follow-up stops.
STOPS_FOLLOW_UP = ("contacted", "booked", "closed", "spam")


class UnknownLead(LookupError):
    """No lead has that id."""


def get_lead(session: Session, lead_id: uuid.UUID) -> Lead:
    """The lead; raises UnknownLead."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise UnknownLead(str(lead_id))
    return lead


def set_status(
    session: Session,
    lead_id: uuid.UUID,
    status: str,
    now: dt.datetime,
    actor: audit.Actor | None = None,
) -> bool:
    """Change a lead's status, stopping its sequence where a person took over (not committed).

    With an actor (staff), the change goes on the timeline and the audit trail. Returns False
    if the lead already had that status. Raises UnknownLead, or ValueError for a status that
    does not exist.
    """
    if status not in LEAD_STATUSES:
        raise ValueError(f"unknown lead status {status!r}")
    lead = get_lead(session, lead_id)
    previous = lead.status
    lead.status = status
    if status in STOPS_FOLLOW_UP:
        sequences.stop(session, lead_id, status, now)
    if previous == status:
        return False
    if actor is not None:
        data = {"from": previous, "to": status}
        events.record(session, lead_id, "status_changed", actor, now, data)
    return True


def unspam(session: Session, lead_id: uuid.UUID, now: dt.datetime, actor: audit.Actor) -> str:
    """Take a lead out of spam, back to the status it had before (not committed).

    It then hears from the clinic as a new lead would: a stop made by marking it spam is
    lifted and the lead is queued for processing after commit (the outbox), which plans its
    first contact and follow-up. Returns the restored status; raises UnknownLead, or
    ValueError if the lead is not spam.
    """
    lead = get_lead(session, lead_id)
    if lead.status != "spam":
        raise ValueError("this lead is not marked as spam")
    marked = session.scalars(
        select(LeadEvent)
        .where(LeadEvent.lead_id == lead_id, LeadEvent.kind == "status_changed")
        .order_by(LeadEvent.at.desc(), LeadEvent.id.desc())
    ).first()
    before = marked.data.get("from") if marked and marked.data.get("to") == "spam" else None
    restored = before if before in LEAD_STATUSES and before != "spam" else "new"
    # Resumed first: restoring "contacted" or "booked" then stops the follow-up again, for them.
    spam.resume(session, lead, now)
    set_status(session, lead_id, restored, now, actor)
    return restored


def patient_replied(session: Session, lead_id: uuid.UUID, now: dt.datetime) -> None:
    """The patient answered (a text or an email): a person takes it from here (not committed)."""
    sequences.stop(session, lead_id, "replied", now)


def callback_requested(session: Session, lead_id: uuid.UUID, now: dt.datetime) -> None:
    """The patient asked for a call: no more automated nudges (not committed)."""
    sequences.stop(session, lead_id, "callback_requested", now)
