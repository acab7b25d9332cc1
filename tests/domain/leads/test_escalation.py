"""Nobody left unclaimed: escalation rows on a controllable clock, none once someone acts."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.config.escalation import EscalationSettings
from intake_service.domain import intake
from intake_service.domain.clinic_hours import OpeningHours, add_business_days
from intake_service.domain.compliance.audit import Actor
from intake_service.domain.leads import claims, escalation
from intake_service.models import Escalation, Lead
from tests.domain.builders import database, messages_of, process, settings_of, submit
from tests.support import factories

TEAM = "team@clinic.example"
HEAD = "oncall@clinic.example"
LA = zoneinfo.ZoneInfo("America/Los_Angeles")


@pytest.fixture
def app(ready_app: Callable[..., Flask]) -> Flask:
    return ready_app(TEAM_EMAILS=TEAM, ON_CALL_EMAIL=HEAD, ON_CALL_PHONE="+13105550199")


def fresh(app: Flask, **changes: Any) -> uuid.UUID:
    who = intake.Contact(first_name="Ana", email=f"{uuid.uuid4().hex[:10]}@patients.example")
    lead_id = submit(app, contact=who, sms_consent=False, **changes)
    process(app, lead_id)
    return lead_id


def escalations(app: Flask, lead_id: uuid.UUID) -> list[tuple[int, str | None]]:
    with database(app).session() as session:
        rows = session.scalars(
            sa.select(Escalation).where(Escalation.lead_id == lead_id).order_by(Escalation.round)
        )
        return [(r.round, r.outcome) for r in rows]


def created(app: Flask, lead_id: uuid.UUID) -> dt.datetime:
    with database(app).session() as session:
        return session.get_one(Lead, lead_id).created_at


def overdue_message_recipients(app: Flask, lead_id: uuid.UUID) -> list[tuple[str, str, str]]:
    return sorted(
        (m.step_key, m.channel, m.recipient)
        for m in messages_of(database(app), lead_id)
        if m.template_key == escalation.TEMPLATE
    )


def test_a_high_priority_lead_escalates_after_an_hour_then_up_the_ladder(app: Flask) -> None:
    lead_id = fresh(app)  # TMS all-yes: high priority
    start = created(app, lead_id)
    db, settings = database(app), settings_of(app)
    assert escalation.sweep(db, settings, now=start + dt.timedelta(minutes=59)) == 0
    with db.session() as session:
        assert escalation.overdue(session, [lead_id], start + dt.timedelta(minutes=59)) == set()
        assert escalation.overdue(session, [lead_id], start + dt.timedelta(minutes=61)) == {lead_id}
    assert escalation.sweep(db, settings, now=start + dt.timedelta(minutes=61)) == 1
    assert overdue_message_recipients(app, lead_id) == [("escalation1", "email", TEAM)]
    assert escalation.sweep(db, settings, now=start + dt.timedelta(minutes=62)) == 0
    assert escalation.sweep(db, settings, now=start + dt.timedelta(minutes=122)) == 1
    assert ("escalation2", "email", HEAD) in overdue_message_recipients(app, lead_id)
    assert escalations(app, lead_id) == [(1, "escalated"), (2, "escalated"), (3, None)]


def test_an_urgent_lead_escalates_after_five_minutes_with_a_text(app: Flask) -> None:
    lead_id = fresh(app, message="I want to end my life")
    start = created(app, lead_id)
    escalation.sweep(database(app), settings_of(app), now=start + dt.timedelta(minutes=6))
    assert ("escalation1", "sms", "+13105550199") in overdue_message_recipients(app, lead_id)


def test_no_escalation_once_claimed(app: Flask) -> None:
    db = database(app)
    lead_id = fresh(app)
    user = factories.user(db, role="clinician")
    with db.transaction() as session:
        claims.claim(session, lead_id, Actor(id=user.id, email=user.email), dt.datetime.now(dt.UTC))
    later = created(app, lead_id) + dt.timedelta(hours=3)
    assert escalation.sweep(db, settings_of(app), now=later) == 0
    assert escalations(app, lead_id) == [(1, "acted")]
    assert overdue_message_recipients(app, lead_id) == []
    with db.session() as session:
        assert escalation.overdue(session, [lead_id], later) == set()


def test_spam_gets_no_clock(app: Flask) -> None:
    lead_id = fresh(app, bot_signals=("honeypot",))
    assert escalations(app, lead_id) == []


@pytest.mark.parametrize(
    ("arrived", "due"),
    [
        (dt.datetime(2026, 12, 1, 10, 0, tzinfo=LA), dt.datetime(2026, 12, 2, 10, 0, tzinfo=LA)),
        (dt.datetime(2026, 12, 1, 20, 0, tzinfo=LA), dt.datetime(2026, 12, 2, 17, 0, tzinfo=LA)),
        # Friday afternoon: the rest of Friday, then Monday morning.
        (dt.datetime(2026, 12, 4, 15, 0, tzinfo=LA), dt.datetime(2026, 12, 7, 15, 0, tzinfo=LA)),
        (dt.datetime(2026, 12, 5, 11, 0, tzinfo=LA), dt.datetime(2026, 12, 7, 17, 0, tzinfo=LA)),
    ],
)
def test_one_business_day_counts_only_open_hours(arrived: dt.datetime, due: dt.datetime) -> None:
    hours = OpeningHours.from_limits(EscalationSettings())
    assert add_business_days(arrived, hours, LA) == due


def test_the_times_are_settings(make_app: Callable[..., Flask]) -> None:
    app = make_app(FIRST_CONTACT_HIGH_MINUTES="10", BUSINESS_DAYS="mon,tue", BUSINESS_OPEN="08:00")
    limits = settings_of(app).escalation
    assert (limits.high_minutes, limits.business_days) == (10.0, (0, 1))
    assert limits.business_open == dt.time(8, 0)
