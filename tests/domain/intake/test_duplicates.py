"""Returning leads: a recent match by phone or email joins the lead, once welcomed."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.domain import intake
from intake_service.domain.intake import duplicates
from intake_service.domain.intake.contact import normalize_email, normalize_phone
from intake_service.domain.leads import status
from intake_service.models import Lead, Submission
from tests.domain.builders import (
    database,
    lead_row,
    messages_of,
    process_and_deliver,
    submission,
)


@pytest.fixture
def app(ready_app: Callable[..., Flask]) -> Flask:
    return ready_app(TEAM_EMAILS="team@clinic.example")


def send(
    app: Flask, phone: str | None = None, email: str | None = None, **changes: Any
) -> uuid.UUID:
    who = intake.Contact(
        first_name="Sam",
        last_name="Rivera",
        email=normalize_email(email) if email else None,
        phone=normalize_phone(phone) if phone else None,
    )
    return intake.submit(
        database(app), submission(contact=who, sms_consent=bool(phone), **changes)
    ).lead_id


def count_leads(app: Flask) -> int:
    with database(app).session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(Lead)) or 0)


def submissions_of(app: Flask, lead_id: uuid.UUID) -> int:
    with database(app).session() as session:
        query = sa.select(sa.func.count()).where(Submission.lead_id == lead_id)
        return int(session.scalar(query) or 0)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Sam.Rivera+clinic@GMail.com", "samrivera@gmail.com"),
        ("s.a.m@googlemail.com", "sam@gmail.com"),
        ("Sam.Rivera+x@Example.com", "sam.rivera+x@example.com"),  # only Gmail ignores them
    ],
)
def test_email_key_folds_dots_and_tags_only_for_gmail(raw: str, key: str) -> None:
    assert duplicates.email_key(raw) == key


def test_same_phone_in_another_format_joins_the_lead(app: Flask) -> None:
    first = send(app, phone="(310) 555-0123")
    second = send(app, phone="+1 310-555-0123", email="new@patients.example")
    assert second == first
    assert (count_leads(app), submissions_of(app, first)) == (1, 2)


def test_same_email_in_another_case_joins_the_lead(app: Flask) -> None:
    first = send(app, email="Sam.Rivera@Patients.example")
    assert send(app, email="sam.rivera@PATIENTS.EXAMPLE") == first
    assert send(app, email="samrivera+tms@gmail.com") != first  # another mailbox
    assert send(app, email="Sam.Rivera@gmail.com") == send(app, email="samrivera@gmail.com")


def test_a_lead_older_than_the_window_is_not_joined(app: Flask) -> None:
    first = send(app, phone="(310) 555-0123")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    with database(app).transaction() as session:
        session.execute(sa.update(Submission).values(created_at=old))
        session.execute(sa.update(Lead).values(created_at=old))
    assert send(app, phone="(310) 555-0123") != first
    assert count_leads(app) == 2


def test_the_window_is_a_setting(make_app: Callable[..., Flask]) -> None:
    app = make_app(DUPLICATE_WINDOW_DAYS="3")
    first = send(app, email="sam@patients.example")
    four_days = dt.datetime.now(dt.UTC) - dt.timedelta(days=4)
    with database(app).transaction() as session:
        session.execute(sa.update(Submission).values(created_at=four_days))
    assert send(app, email="sam@patients.example") != first


def test_returning_lead_tells_the_team_how_often_and_welcomes_the_patient_once(app: Flask) -> None:
    db = database(app)
    lead_id = send(app, phone="(310) 555-0123", email="sam@patients.example")
    process_and_deliver(app, lead_id)
    assert send(app, email="SAM@patients.example") == lead_id
    process_and_deliver(app, lead_id)
    messages = messages_of(db, lead_id)
    welcomes = [m for m in messages if m.audience == "patient" and m.step_key == "first"]
    assert sorted(m.channel for m in welcomes) == ["email", "sms"]  # one of each, not two
    team = [m for m in messages if m.audience == "team"]
    assert len(team) == 2
    assert team[1].subject is not None and team[1].subject.startswith("Returning lead (2 times)")
    assert "has now asked 2 times" in (team[1].body_text or "")
    assert "RETURNING" not in (team[0].body_text or "")


def test_a_closed_lead_reopens_when_its_person_asks_again(app: Flask) -> None:
    db = database(app)
    lead_id = send(app, email="sam@patients.example")
    process_and_deliver(app, lead_id)
    with db.transaction() as session:
        status.set_status(session, lead_id, "closed", dt.datetime.now(dt.UTC))
    assert send(app, email="sam@patients.example") == lead_id
    lead = lead_row(db, lead_id)
    # Reopened for the team; the follow-up stopped at closing stays stopped (documented).
    assert (lead.status, lead.sequence_stop_reason) == ("new", "closed")
    process_and_deliver(app, lead_id)
    assert [m.audience for m in messages_of(db, lead_id)].count("team") == 2


def test_spam_never_joins_a_person_s_lead(app: Flask) -> None:
    lead_id = send(app, email="sam@patients.example")
    bot = send(app, email="sam@patients.example", bot_signals=("honeypot",))
    assert bot != lead_id
    assert lead_row(database(app), bot).status == "spam"
    assert send(app, email="sam@patients.example") == lead_id  # and a spam lead is never joined


def test_crisis_language_on_return_makes_the_lead_urgent(app: Flask) -> None:
    lead_id = send(app, email="sam@patients.example")
    answer = intake.submit(
        database(app),
        submission(
            contact=intake.Contact(first_name="Sam", email="sam@patients.example"),
            message="I want to end my life",
            sms_consent=False,
        ),
    )
    assert (answer.lead_id, answer.urgent) == (lead_id, True)
    assert lead_row(database(app), lead_id).priority == "urgent"
