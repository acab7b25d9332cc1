"""What a staff member should notice since they opened a page: the title badge and the chime.

Counted from rows, not kept as state: new leads that are theirs or nobody's, leads someone
else gave them (assignment events), and every urgent lead nobody has acknowledged yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from intake_service.models import Lead, LeadEvent

# Spam and closed leads are nobody's work.
_LIVE = ("new", "contacted", "booked")


@dataclass(frozen=True)
class Notifications:
    new_leads: int  # arrived since, unassigned or mine
    assigned_to_me: int  # given to me by someone else since
    urgent: int  # urgent and unacknowledged, now (not only since)

    @property
    def total(self) -> int:
        return self.new_leads + self.assigned_to_me + self.urgent


def counts(session: Session, user_id: int, since: dt.datetime) -> Notifications:
    """The counts for `user_id` since `since` (urgent: all still unacknowledged)."""
    new_leads = session.scalar(
        select(func.count())
        .select_from(Lead)
        .where(
            Lead.created_at > since,
            Lead.status.in_(_LIVE),
            or_(Lead.assignee_id.is_(None), Lead.assignee_id == user_id),
        )
    )
    # Assignment data is a small JSON dict ({"from", "to"}); few rows a poll, read in Python
    # rather than with a JSON operator that differs between SQLite and PostgreSQL.
    handed = session.scalars(
        select(LeadEvent.data).where(
            LeadEvent.kind == "assigned",
            LeadEvent.at > since,
            or_(LeadEvent.actor_id.is_(None), LeadEvent.actor_id != user_id),
        )
    )
    assigned = sum(1 for data in handed if (data or {}).get("to") == user_id)
    urgent = session.scalar(
        select(func.count())
        .select_from(Lead)
        .where(Lead.urgent.is_(True), Lead.acknowledged_at.is_(None), Lead.status.in_(_LIVE))
    )
    return Notifications(int(new_leads or 0), assigned, int(urgent or 0))
