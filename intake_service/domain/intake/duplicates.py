"""Returning leads: a submission from someone who asked recently joins their lead.

Matching uses the phone in E.164 and the email case-folded; dots and "+tags" in the local part
are ignored only for Gmail, the provider known to ignore them (elsewhere "a.b" and "ab" may be
two people). A match must have a submission within DUPLICATE_WINDOW_DAYS; spam leads never
match (a person's request must not hide behind a bot's).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake_service.models import Lead, Submission
from intake_service.models.lead_index import has_phone

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


def find_returning(
    session: Session, phone: str | None, email: str | None, now: dt.datetime, window_days: int
) -> Lead | None:
    """The lead this contact belongs to, if it asked within the window (locked for update)."""
    key = email_key(email)
    matches = []
    if phone:
        matches.append(has_phone(phone))
    if key:
        matches.append(Lead.email_key == key)
    if not matches:
        return None
    since = now - dt.timedelta(days=window_days)
    recent = select(Submission.lead_id).where(Submission.created_at >= since).scalar_subquery()
    return session.scalars(
        select(Lead)
        .where(or_(*matches), Lead.status != "spam", Lead.id.in_(recent))
        .order_by(Lead.created_at.desc())
        .limit(1)
        .with_for_update()
    ).first()


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
