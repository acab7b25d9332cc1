"""Returning leads: a submission from someone who asked recently joins their lead.

Matching uses the phone in E.164 and the email case-folded; dots and "+tags" in the local part
are ignored only for Gmail, the provider known to ignore them (elsewhere "a.b" and "ab" may be
two people). A match must have a submission within DUPLICATE_WINDOW_DAYS; spam leads never
match (a person's request must not hide behind a bot's).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session

from intake_service.models import Lead, Submission
from intake_service.models.lead_index import has_phone_param

GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


def email_key(email: str | None) -> str | None:
    """The form of an address two submissions share when they reach the same mailbox."""
    if not email:
        return None
    local, _, domain = email.casefold().rpartition("@")
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = GMAIL_DOMAINS[0]
    return f"{local}@{domain}"


# The leads of one contact: the phone bound as "phone" (E.164, sent as its hash) or the email
# bound as "email_key" (see email_key); None for either matches nothing. Built once, as the
# statements below: building a statement costs more CPU than running it (docs/performance.md).
SAME_CONTACT = or_(has_phone_param("phone"), Lead.email_key == bindparam("email_key"))

# The id of the lead a submission from that contact joins: the newest that is not spam and
# asked since "returning_since". A column for a larger query (intake reads it with its other
# lookups), so it never correlates with the query it is part of.
RETURNING = (
    select(Lead.id)
    .where(
        SAME_CONTACT,
        Lead.status != "spam",
        exists()
        .where(
            Submission.lead_id == Lead.id,
            Submission.created_at >= bindparam("returning_since"),
        )
        .correlate(Lead),
    )
    .order_by(Lead.created_at.desc())
    .limit(1)
    .correlate(None)
    .scalar_subquery()
)


def contact_params(phone: str | None, email: str | None) -> dict[str, str | None]:
    """The values of SAME_CONTACT's parameters for this phone and email."""
    return {"phone": phone, "email_key": email_key(email)}


def returning_params(
    phone: str | None, email: str | None, now: dt.datetime, window_days: int
) -> dict[str, Any]:
    """The values of RETURNING's parameters."""
    return {
        **contact_params(phone, email),
        "returning_since": now - dt.timedelta(days=window_days),
    }


def lock(session: Session, lead_id: uuid.UUID | None) -> Lead | None:
    """The lead found by `returning`, locked for update, if it still is not spam."""
    if lead_id is None:
        return None
    lead = session.get(Lead, lead_id, with_for_update=True, populate_existing=True)
    return lead if lead is not None and lead.status != "spam" else None


def find_returning(
    session: Session, phone: str | None, email: str | None, now: dt.datetime, window_days: int
) -> Lead | None:
    """The lead this contact belongs to, if it asked within the window (locked for update)."""
    params = returning_params(phone, email, now, window_days)
    return lock(session, session.scalar(select(RETURNING), params))


def rejoin(lead: Lead, urgent: bool) -> None:
    """What a lead becomes when its person asks again (not committed).

    A closed lead reopens ("new"): they are asking again and someone must answer. A stopped
    follow-up stays stopped (a person took over, or the lead was closed: the team is told of
    the return and decides what the patient hears next). New crisis language makes it urgent.
    """
    if lead.status == "closed":
        lead.status = "new"
    if urgent and not lead.urgent:
        lead.urgent = True
        lead.priority = "urgent"
        lead.acknowledged_at = None
