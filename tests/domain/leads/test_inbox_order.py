"""The inbox order: urgent first, then time left to the first-contact deadline, contacted leads
after, oldest first on ties; overdue and time left on a controllable clock."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from intake_service.db import Database, utcnow
from intake_service.domain import intake
from intake_service.domain.compliance.audit import Actor
from intake_service.domain.leads import calls, claims, inbox
from tests.domain.builders import database, lead_row, process, submit
from tests.support import factories

EVERYTHING = inbox.Filters(status="all")


def order(session: Session, now: dt.datetime, filters: inbox.Filters = EVERYTHING) -> list[str]:
    return [row.name.split()[0] for row in inbox.rows(session, filters, 0, now)]


def by_name(session: Session, now: dt.datetime) -> dict[str, inbox.Row]:
    return {row.name.split()[0]: row for row in inbox.rows(session, EVERYTHING, 0, now)}


@pytest.fixture
def app(ready_app: Callable[..., Flask]) -> Flask:
    return ready_app()


@pytest.fixture
def both_backends(ready_app: Callable[..., Flask], backend_url: str) -> Database:
    """The order is SQL (NULLs, CASE, COALESCE over timestamps): checked on both databases."""
    return database(ready_app(DATABASE_URL=backend_url))


def arrive(app: Flask, name: str, **changes: Any) -> uuid.UUID:
    """A submission through intake, processed: triaged, routed, its clock started."""
    who = intake.Contact(first_name=name, email=f"{name.lower()}@patients.example")
    lead_id = submit(app, contact=who, sms_consent=False, **changes)
    process(app, lead_id)
    return lead_id


def test_the_pipeline_clock_orders_the_inbox_and_contact_takes_a_lead_off_it(app: Flask) -> None:
    db = database(app)
    # Oldest first by arrival, but the order is by deadline: one business day for a plain
    # question, an hour for a strong TMS candidate (high), urgent always on top.
    arrive(app, "Plain", form="contact", treatment_interest="ketamine", answers=None)
    time.sleep(0.002)  # distinct arrival times, so "oldest" is well defined
    strong = arrive(app, "Strong")
    time.sleep(0.002)
    arrive(app, "Crisis", message="I want to end my life")
    start = lead_row(db, strong).created_at
    with db.session() as session:
        assert order(session, start) == ["Crisis", "Strong", "Plain"]
        rows = by_name(session, start + dt.timedelta(minutes=59))
        strong_row = rows["Strong"]
        assert not strong_row.overdue and strong_row.due_in is not None
        assert dt.timedelta(0) < strong_row.due_in <= dt.timedelta(minutes=1)
        assert inbox.due_label(strong_row.due_in.total_seconds()) in (
            "due in under a minute",
            "due in 1 min",
        )
        assert rows["Plain"].due_in is not None and rows["Plain"].due_in > dt.timedelta(hours=1)
        later = by_name(session, start + dt.timedelta(minutes=61))
        assert later["Strong"].overdue and "overdue" in later["Strong"].badges
        assert not later["Plain"].overdue
        # The clock does not change the order: time left is the deadline less the same now.
        assert order(session, start + dt.timedelta(days=3)) == ["Crisis", "Strong", "Plain"]

    staff = factories.user(db, "coordinator")
    actor = Actor(id=staff.id, email=staff.email)
    with db.transaction() as session:
        claims.claim(session, strong, actor, utcnow())
    with db.session() as session:
        # Claimed is not contacted: still on its deadline, still overdue once past it.
        assert order(session, start) == ["Crisis", "Strong", "Plain"]
        assert by_name(session, start + dt.timedelta(hours=2))["Strong"].overdue
    with db.transaction() as session:
        calls.log_call(session, strong, "reached", None, actor, utcnow())
    with db.session() as session:
        assert order(session, start) == ["Crisis", "Plain", "Strong"]
        contacted = by_name(session, start + dt.timedelta(days=3))["Strong"]
        assert (contacted.status, contacted.overdue, contacted.due_in) == ("contacted", False, None)
        assert "overdue" not in contacted.badges


def test_a_sooner_deadline_beats_an_older_arrival_and_ties_go_to_the_oldest(
    both_backends: Database,
) -> None:
    db, now = both_backends, utcnow()
    with db.transaction() as session:
        old_slow = factories.lead(session, first_name="OldSlow", age=dt.timedelta(hours=3))
        factories.first_contact_due(session, old_slow, now + dt.timedelta(hours=5))
        new_fast = factories.lead(session, first_name="NewFast", age=dt.timedelta(minutes=10))
        factories.first_contact_due(session, new_fast, now + dt.timedelta(minutes=50))
        late = factories.lead(session, first_name="Late", age=dt.timedelta(hours=2))
        factories.first_contact_due(session, late, now - dt.timedelta(hours=1))
        # Two leads due at the same moment: the one waiting longer comes first.
        tie_young = factories.lead(session, first_name="TieYoung", age=dt.timedelta(hours=1))
        tie_old = factories.lead(session, first_name="TieOld", age=dt.timedelta(hours=4))
        for lead in (tie_young, tie_old):
            factories.first_contact_due(session, lead, now + dt.timedelta(hours=2))
        # Contacted leads come after every waiting one, oldest first, whatever their deadline.
        done_young = factories.lead(
            session, first_name="DoneYoung", age=dt.timedelta(minutes=1), status="contacted"
        )
        factories.first_contact_due(session, done_young, now - dt.timedelta(days=9))
        factories.lead(session, first_name="DoneOld", age=dt.timedelta(days=2), status="contacted")
        # Urgent, acknowledged: after unacknowledged urgent leads, before everything else.
        factories.lead(
            session,
            first_name="Acked",
            age=dt.timedelta(minutes=3),
            urgent=True,
            acknowledged_at=now,
        )
        factories.lead(session, first_name="Urgent", age=dt.timedelta(minutes=1), urgent=True)
    with db.session() as session:
        assert order(session, now) == [
            "Urgent",
            "Acked",
            "Late",
            "NewFast",
            "TieOld",
            "TieYoung",
            "OldSlow",
            "DoneOld",
            "DoneYoung",
        ]
        rows = by_name(session, now)
        assert rows["Late"].overdue and not rows["NewFast"].overdue
        assert rows["NewFast"].due_in == dt.timedelta(minutes=50)  # the clock given, exactly
        # The open filter keeps the order of what it shows.
        assert order(session, now, inbox.Filters())[:3] == ["Urgent", "Acked", "Late"]


def test_a_lead_without_a_clock_yet_is_due_on_arrival_and_says_it_awaits_triage(
    db: Database,
) -> None:
    now = utcnow()
    with db.transaction() as session:
        later = factories.lead(session, first_name="Later", age=dt.timedelta(hours=1))
        factories.first_contact_due(session, later, now + dt.timedelta(minutes=5))
        factories.lead(session, first_name="Unprocessed", age=dt.timedelta(seconds=3))
    with db.session() as session:
        assert order(session, now) == ["Unprocessed", "Later"]
        fresh = by_name(session, now)["Unprocessed"]
        assert fresh.awaiting_triage and not fresh.overdue and fresh.due_in is None


@pytest.mark.parametrize(
    ("seconds", "label"),
    [
        (-5, "overdue"),
        (0, "overdue"),
        (30, "due in under a minute"),
        (12 * 60 + 59, "due in 12 min"),
        (3 * 3600 + 1, "due in 3 h"),
        (86400, "due in 1 day"),
        (3 * 86400, "due in 3 days"),
    ],
)
def test_due_label(seconds: float, label: str) -> None:
    assert inbox.due_label(seconds) == label
