"""Speed to lead, measured from events (never from a mutable field on the lead).

Clocks start at the lead's first submission, so a patient who writes again later does not
reset (or flatter) the time it took to reach them. A first attempt is the first call logged,
whatever its outcome; first real contact is a call that reached the patient, or a person
marking the lead contacted. Automatic messages are neither: they reach nobody in person.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.models import Lead, LeadEvent, User

BUCKETS = (
    ("5 min", dt.timedelta(minutes=5)),
    ("15 min", dt.timedelta(minutes=15)),
    ("1 h", dt.timedelta(hours=1)),
    ("24 h", dt.timedelta(hours=24)),
)


@dataclass(frozen=True)
class LeadTimes:
    lead_id: uuid.UUID
    submitted_at: dt.datetime
    source: str
    treatment: str
    first_attempt: dt.timedelta | None
    first_contact: dt.timedelta | None
    attempted_by: int | None
    booked: bool


@dataclass(frozen=True)
class Spread:
    count: int
    median: dt.timedelta | None
    p90: dt.timedelta | None


@dataclass(frozen=True)
class WeekRow:
    week: str  # "2026-W48"
    leads: int
    attempt: Spread
    contact: Spread


@dataclass(frozen=True)
class Report:
    weeks: list[WeekRow]
    buckets: list[tuple[str, int]]  # share reached within each limit, and "never" last
    total: int
    funnel: list[tuple[str, int]]
    by_source: list[tuple[str, int, Spread]]
    by_treatment: list[tuple[str, int, Spread]]
    by_clinician: list[tuple[str, int, Spread]]


def percentile(values: list[dt.timedelta], share: float) -> dt.timedelta | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def spread(values: list[dt.timedelta]) -> Spread:
    return Spread(len(values), percentile(values, 0.5), percentile(values, 0.9))


def _source(lead: Lead) -> str:
    source = lead.source or {}
    return str(source.get("utm_source") or source.get("via") or "direct")[:40]


def lead_times(session: Session, since: dt.datetime) -> list[LeadTimes]:
    """Per lead submitted since `since` (spam left out): its delays to attempt and contact."""
    leads = list(
        session.scalars(select(Lead).where(Lead.created_at >= since, Lead.status != "spam"))
    )
    ids = [lead.id for lead in leads]
    events: dict[uuid.UUID, list[LeadEvent]] = defaultdict(list)
    if ids:
        query = select(LeadEvent).where(
            LeadEvent.lead_id.in_(ids), LeadEvent.kind.in_(("call_logged", "status_changed"))
        )
        for event in session.scalars(query.order_by(LeadEvent.at)):
            events[event.lead_id].append(event)
    result = []
    for lead in leads:
        calls = [e for e in events[lead.id] if e.kind == "call_logged"]
        contacts = [
            e
            for e in events[lead.id]
            if (e.kind == "call_logged" and e.data.get("outcome") == "reached")
            or (e.kind == "status_changed" and e.data.get("to") == "contacted")
        ]
        booked = lead.status == "booked" or any(
            e.kind == "status_changed" and e.data.get("to") == "booked" for e in events[lead.id]
        )
        result.append(
            LeadTimes(
                lead_id=lead.id,
                submitted_at=lead.created_at,
                source=_source(lead),
                treatment=lead.treatment_interest,
                first_attempt=calls[0].at - lead.created_at if calls else None,
                first_contact=contacts[0].at - lead.created_at if contacts else None,
                attempted_by=calls[0].actor_id if calls else None,
                booked=booked,
            )
        )
    return result


def _grouped(
    times: list[LeadTimes], key: str, labels: dict[int, str] | None = None
) -> list[tuple[str, int, Spread]]:
    groups: dict[str, list[LeadTimes]] = defaultdict(list)
    for t in times:
        value = getattr(t, key)
        if key == "attempted_by":
            if value is None:
                continue
            value = (labels or {}).get(value, "a former colleague")
        groups[str(value)].append(t)
    out = [
        (name, len(group), spread([t.first_contact for t in group if t.first_contact is not None]))
        for name, group in groups.items()
    ]
    return sorted(out, key=lambda row: (-row[1], row[0]))


def report(session: Session, zone: str, now: dt.datetime, weeks: int = 8) -> Report:
    """The dashboard's figures for the last `weeks` weeks, weeks counted in the clinic's zone."""
    tz = zoneinfo.ZoneInfo(zone)
    local_today = now.astimezone(tz).date()
    start = local_today - dt.timedelta(days=local_today.weekday() + 7 * (weeks - 1))
    since = dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC)
    times = lead_times(session, since)
    by_week: dict[str, list[LeadTimes]] = defaultdict(list)
    for t in times:
        year, week, _ = t.submitted_at.astimezone(tz).isocalendar()
        by_week[f"{year}-W{week:02d}"].append(t)
    week_rows = []
    for offset in range(weeks):
        year, week, _ = (start + dt.timedelta(days=7 * offset)).isocalendar()
        label = f"{year}-W{week:02d}"
        group = by_week.get(label, [])
        week_rows.append(
            WeekRow(
                label,
                len(group),
                spread([t.first_attempt for t in group if t.first_attempt is not None]),
                spread([t.first_contact for t in group if t.first_contact is not None]),
            )
        )
    buckets = [
        (name, sum(1 for t in times if t.first_contact is not None and t.first_contact <= limit))
        for name, limit in BUCKETS
    ]
    buckets.append(("never", sum(1 for t in times if t.first_contact is None)))
    funnel = [
        ("Submitted", len(times)),
        ("Contacted", sum(1 for t in times if t.first_contact is not None)),
        ("Booked", sum(1 for t in times if t.booked)),
    ]
    labels = {u.id: u.label for u in session.scalars(select(User))}
    return Report(
        weeks=week_rows,
        buckets=buckets,
        total=len(times),
        funnel=funnel,
        by_source=_grouped(times, "source"),
        by_treatment=_grouped(times, "treatment"),
        by_clinician=_grouped(times, "attempted_by", labels),
    )


def duration_label(value: dt.timedelta | None) -> str:
    """'45 s', '12 min', '3.5 h', '2.0 days', or '—' for none."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
