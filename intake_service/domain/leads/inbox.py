"""The inbox read model: which leads a person sees, in what order, with which badges."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from intake_service.domain.intake.contact import InvalidContact, normalize_phone
from intake_service.models import Lead, Submission, Triage, User
from intake_service.models.lead import LEAD_STATUSES, TREATMENTS
from intake_service.models.lead_index import has_email, has_phone

OPEN_STATUSES = ("new", "contacted")
STATUS_CHOICES = ("open", *LEAD_STATUSES, "all")
AGE_CHOICES = {"": None, "1h": dt.timedelta(hours=1), "24h": dt.timedelta(days=1),
               "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}  # fmt: skip
# A lead nobody has tried to reach after this long is overdue (until routing sets deadlines).
FIRST_CONTACT_DUE = dt.timedelta(hours=1)
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


def rows(
    session: Session,
    filters: Filters,
    user_id: int,
    now: dt.datetime,
    created_after: dt.datetime | None = None,
) -> list[Row]:
    """Leads matching `filters`: urgent first, then oldest first (the longest waiting).

    With `created_after`, only leads that arrived since (the live update of an open page).
    """
    submissions = (
        select(Submission.lead_id, func.count().label("n")).group_by(Submission.lead_id).subquery()
    )
    query = (
        select(Lead, Triage.candidacy, User, submissions.c.n)
        .outerjoin(Triage, Triage.lead_id == Lead.id)
        .outerjoin(User, User.id == Lead.assignee_id)
        .outerjoin(submissions, submissions.c.lead_id == Lead.id)
        .order_by(
            # An urgent lead nobody acknowledged stays on top; once someone has it in hand it
            # still comes before the ordinary ones.
            case(
                (and_(Lead.urgent.is_(True), Lead.acknowledged_at.is_(None)), 0),
                (Lead.urgent.is_(True), 1),
                else_=2,
            ),
            Lead.created_at.asc(),
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
    if conditions:
        query = query.where(and_(*conditions))
    found = []
    for lead, candidacy, user, count in session.execute(query):
        returning = (count or 0) > 1
        overdue = lead.status == "new" and now - lead.created_at > FIRST_CONTACT_DUE
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
