"""The inbox read model: which leads a person sees, in what order, with which badges.

The order is urgent first (nobody acknowledged it, then acknowledged), then leads still waiting
for first real contact by their first-contact deadline (soonest or most overdue first), then
the rest (contacted, booked, ...), oldest first throughout ties.

The deadline is the first rung of the escalation clock (domain/leads/escalation.py): processing
stores it as the round-1 `escalations.due_at`, already counted in business hours, so the whole
order is one SQL ORDER BY over an indexed join and the LIMIT applies after it. No business-hours
arithmetic runs per request, and 10k open leads sort in the database (bench/inbox_order.py).
A lead not processed yet has no clock: it sorts as due on arrival and shows "awaiting triage".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from intake_service.domain.intake.contact import InvalidContact, normalize_phone
from intake_service.models import Escalation, Lead, Submission, Triage, User
from intake_service.models.lead import LEAD_STATUSES, TREATMENTS
from intake_service.models.lead_index import has_email, has_phone

OPEN_STATUSES = ("new", "contacted")
STATUS_CHOICES = ("open", *LEAD_STATUSES, "all")
AGE_CHOICES = {"": None, "1h": dt.timedelta(hours=1), "24h": dt.timedelta(days=1),
               "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}  # fmt: skip
# First real contact not made yet: the lead is on its first-contact clock (a reached call or
# a person marking it contacted moves it on, see calls.log_call and dashboard.lead_times).
WAITING_STATUS = "new"
MAX_ROWS = 200


@dataclass(frozen=True)
class Filters:
    """What the inbox shows; unknown values from a URL fall back to the defaults."""

    status: str = "open"
    treatment: str = ""
    assignee: str = ""  # "" anyone, "mine", "unassigned", or a user id
    age: str = ""
    q: str = ""

    @classmethod
    def parse(cls, values: dict[str, str]) -> Filters:
        status = values.get("status", "open")
        treatment = values.get("treatment", "")
        assignee = values.get("assignee", "")
        age = values.get("age", "")
        return cls(
            status=status if status in STATUS_CHOICES else "open",
            treatment=treatment if treatment in TREATMENTS else "",
            assignee=assignee if assignee in ("mine", "unassigned") or assignee.isdigit() else "",
            age=age if age in AGE_CHOICES else "",
            q=values.get("q", "").strip()[:100],
        )

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class Row:
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    treatment: str
    candidacy: str | None
    priority: str | None
    status: str
    assignee: str | None
    assignee_id: int | None
    urgent: bool  # urgent and nobody has acknowledged it yet: it stays on top
    returning: bool
    overdue: bool
    # The first-contact deadline while the lead waits for first contact (None once contacted,
    # or before processing started its clock), and the time left to it at `now` (negative:
    # overdue by that much).
    due_at: dt.datetime | None = None
    due_in: dt.timedelta | None = None
    awaiting_triage: bool = False
    badges: tuple[str, ...] = field(default=())


def _search(q: str) -> ColumnElement[bool]:
    """Names by substring; a phone or an email only whole, through the blind index.

    Contact points are matched by keyed hash (security/blind_index.py), never by scanning
    the columns: "(310) 555-0188" finds the lead, "0188" does not.
    """
    like = f"%{q.lower()}%"
    terms: list[ColumnElement[bool]] = [
        func.lower(Lead.first_name + " " + Lead.last_name).like(like),
    ]
    if "@" in q:
        terms.append(has_email(q))
    else:
        with contextlib.suppress(InvalidContact):
            terms.append(has_phone(normalize_phone(q)))
    return or_(*terms)


def _first_rung() -> ColumnElement[bool]:
    # The first rung's due time is the first-contact deadline (unique on lead_id, round).
    return and_(Escalation.lead_id == Lead.id, Escalation.round == 1)


def _page(
    filters: Filters, user_id: int, now: dt.datetime, created_after: dt.datetime | None
) -> Select[uuid.UUID]:
    """The ids of one page of the inbox, in order: narrow rows, so the database sorts every
    matching lead cheaply and the LIMIT applies after the order."""
    waiting = Lead.status == WAITING_STATUS
    query = (
        select(Lead.id)
        .outerjoin(Escalation, _first_rung())
        .order_by(
            # An urgent lead nobody acknowledged stays on top; once someone has it in hand it
            # still comes before the ordinary ones.
            case(
                (and_(Lead.urgent.is_(True), Lead.acknowledged_at.is_(None)), 0),
                (Lead.urgent.is_(True), 1),
                else_=2,
            ),
            # Waiting for first contact, by deadline; no clock yet: due on arrival.
            case((waiting, 0), else_=1),
            case((waiting, func.coalesce(Escalation.due_at, Lead.created_at)), else_=None),
            Lead.created_at.asc(),
            Lead.id,
        )
        .limit(MAX_ROWS)
    )
    conditions: list[ColumnElement[bool]] = []
    if filters.status == "open":
        conditions.append(Lead.status.in_(OPEN_STATUSES))
    elif filters.status != "all":
        conditions.append(Lead.status == filters.status)
    if filters.treatment:
        conditions.append(Lead.treatment_interest == filters.treatment)
    if filters.assignee == "mine":
        conditions.append(Lead.assignee_id == user_id)
    elif filters.assignee == "unassigned":
        conditions.append(Lead.assignee_id.is_(None))
    elif filters.assignee:
        conditions.append(Lead.assignee_id == int(filters.assignee))
    age = AGE_CHOICES[filters.age]
    if age is not None:
        conditions.append(Lead.created_at >= now - age)
    if filters.q:
        conditions.append(_search(filters.q))
    if created_after is not None:
        conditions.append(Lead.created_at > created_after)
    return query.where(and_(*conditions)) if conditions else query


def rows(
    session: Session,
    filters: Filters,
    user_id: int,
    now: dt.datetime,
    created_after: dt.datetime | None = None,
) -> list[Row]:
    """Leads matching `filters`, in inbox order (see the module's docstring).

    `now` decides which are overdue and the time left to each deadline (tests pass a clock);
    it never changes the order, since time left is the deadline less the same `now` for all.
    With `created_after`, only leads that arrived since (the live update of an open page).
    """
    ids = list(session.scalars(_page(filters, user_id, now, created_after)))
    if not ids:
        return []
    # The page's details, for its few hundred ids only (the order is the page query's).
    counted = session.execute(
        select(Submission.lead_id, func.count())
        .where(Submission.lead_id.in_(ids))
        .group_by(Submission.lead_id)
    )
    submissions = {lead_id: n for lead_id, n in counted}
    details = session.execute(
        select(Lead, Triage.candidacy, User, Escalation.due_at)
        .outerjoin(Triage, Triage.lead_id == Lead.id)
        .outerjoin(User, User.id == Lead.assignee_id)
        .outerjoin(Escalation, _first_rung())
        .where(Lead.id.in_(ids))
    )
    position = {lead_id: at for at, lead_id in enumerate(ids)}
    ordered = sorted(details, key=lambda found: position[found[0].id])
    found = []
    for lead, candidacy, user, deadline in ordered:
        returning = submissions.get(lead.id, 0) > 1
        on_clock = lead.status == WAITING_STATUS
        due_at = deadline if on_clock else None
        due_in = due_at - now if due_at is not None else None
        overdue = due_in is not None and due_in <= dt.timedelta(0)
        unacknowledged = lead.urgent and lead.acknowledged_at is None
        badges = tuple(
            name
            for name, on in (
                ("urgent", unacknowledged),
                ("acknowledged", lead.urgent and not unacknowledged),
                ("overdue", overdue),
                ("returning", returning),
                ("spam", lead.status == "spam"),
            )
            if on
        )
        found.append(
            Row(
                id=lead.id,
                name=lead.full_name,
                created_at=lead.created_at,
                treatment=lead.treatment_interest,
                candidacy=candidacy,
                priority=lead.priority,
                status=lead.status,
                assignee=user.label if user else None,
                assignee_id=lead.assignee_id,
                urgent=unacknowledged,
                returning=returning,
                overdue=overdue,
                due_at=due_at,
                due_in=due_in,
                awaiting_triage=on_clock and deadline is None and lead.priority is None,
                badges=badges,
            )
        )
    return found


def neighbours(
    session: Session, lead_id: uuid.UUID, filters: Filters, user_id: int, now: dt.datetime
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The previous and next lead in the inbox order, for stepping through leads."""
    ids = [r.id for r in rows(session, filters, user_id, now)]
    if lead_id not in ids:
        return None, None
    at = ids.index(lead_id)
    return (ids[at - 1] if at > 0 else None, ids[at + 1] if at + 1 < len(ids) else None)


def age_label(seconds: float) -> str:
    """'just now', '4 min ago', '3 h ago', '2 days ago'."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


def due_label(seconds: float) -> str:
    """The time left to a first-contact deadline: 'due in 12 min', 'due in 3 h', 'overdue'."""
    if seconds <= 0:
        return "overdue"
    if seconds < 60:
        return "due in under a minute"
    if seconds < 3600:
        return f"due in {int(seconds // 60)} min"
    if seconds < 86400:
        return f"due in {int(seconds // 3600)} h"
    days = int(seconds // 86400)
    return f"due in {days} day{'s' if days != 1 else ''}"
