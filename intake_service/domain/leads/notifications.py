"""What a staff member should notice since they opened a page: the title badge and the chime.

Counted from rows, not kept as state: new leads that are theirs or nobody's, leads someone
else gave them (assignment events), texts from the leads assigned to them (inbound messages),
and every urgent lead nobody has acknowledged yet.

A reply is named by the lead's first name only, for the list under the badge: staff may see
names in the app, never the words in a notice (those stay encrypted on the lead page), and the
page title carries the count alone (notify.js), since a title shows in task bars and tab lists.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from intake_service.models import InboundMessage, Lead, LeadEvent

# Spam and closed leads are nobody's work.
_LIVE = ("new", "contacted", "booked")
# What a person answers; keywords (STOP, START, HELP) are answered by the service itself.
REPLY_KINDS = ("reply", "callback", "crisis")
MAX_LISTED = 3  # the header has room for a few names; the count says how many


@dataclass(frozen=True)
class ReplyNotice:
    """Texts from one of my leads since the page opened: who (first name) and the latest time."""

    lead_id: uuid.UUID
    first_name: str
    count: int
    latest_at: dt.datetime


@dataclass(frozen=True)
class Notifications:
    new_leads: int  # arrived since, unassigned or mine
    assigned_to_me: int  # given to me by someone else since
    urgent: int  # urgent and unacknowledged, now (not only since)
    replies: int = 0  # texts since from leads assigned to me
    reply_leads: tuple[ReplyNotice, ...] = field(default=())  # newest first, at most MAX_LISTED

    @property
    def total(self) -> int:
        return self.new_leads + self.assigned_to_me + self.urgent + self.replies


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
    replies = replies_from_my_leads(session, user_id, since)
    return Notifications(
        int(new_leads or 0),
        assigned,
        int(urgent or 0),
        replies=sum(r.count for r in replies),
        reply_leads=tuple(replies[:MAX_LISTED]),
    )


def replies_from_my_leads(session: Session, user_id: int, since: dt.datetime) -> list[ReplyNotice]:
    """Texts received since `since` from leads now assigned to `user_id`, one notice per lead,
    newest first. Only the first name is read: the bodies are never decrypted here."""
    latest = func.max(InboundMessage.received_at)
    found = session.execute(
        select(Lead.id, Lead.first_name, func.count(InboundMessage.id), latest)
        .join(Lead, Lead.id == InboundMessage.lead_id)
        .where(
            InboundMessage.received_at > since,
            InboundMessage.kind.in_(REPLY_KINDS),
            Lead.assignee_id == user_id,
        )
        .group_by(Lead.id, Lead.first_name)
        .order_by(latest.desc(), Lead.id)
    )
    return [ReplyNotice(lead_id, name, int(n), at) for lead_id, name, n, at in found]
