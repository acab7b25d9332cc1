"""A lead's status, and what changing it means for its follow-up."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from intake_service.domain.outreach import sequences
from intake_service.models import Lead
from intake_service.models.lead import LEAD_STATUSES

# Once a person has reached the lead, or the lead is closed, automated follow-up stops.
STOPS_FOLLOW_UP = ("contacted", "booked", "closed", "spam")


class UnknownLead(LookupError):
    """No lead has that id."""


def set_status(session: Session, lead_id: uuid.UUID, status: str, now: dt.datetime) -> None:
    """Change a lead's status, stopping its sequence where a person took over (not committed).

    Raises UnknownLead, or ValueError for a status that does not exist.
    """
    if status not in LEAD_STATUSES:
        raise ValueError(f"unknown lead status {status!r}")
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise UnknownLead(str(lead_id))
    lead.status = status
    if status in STOPS_FOLLOW_UP:
        sequences.stop(session, lead_id, status, now)


def patient_replied(session: Session, lead_id: uuid.UUID, now: dt.datetime) -> None:
    """The patient answered (a text or an email): a person takes it from here (not committed)."""
    sequences.stop(session, lead_id, "replied", now)


def callback_requested(session: Session, lead_id: uuid.UUID, now: dt.datetime) -> None:
    """The patient asked for a call: no more automated nudges (not committed)."""
    sequences.stop(session, lead_id, "callback_requested", now)
