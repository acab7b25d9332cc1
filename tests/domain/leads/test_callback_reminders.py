"""Callback reminders: a beat-swept check of due times, one email per callback, no health detail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from intake_service import broker, tasks
from intake_service.db import utcnow
from intake_service.domain.compliance.audit import Actor
from intake_service.domain.leads import callbacks, reminders
from intake_service.models import CallbackRequest, Lead, Message
from tests.domain.builders import database, settings_of, tick
from tests.support import factories
from tests.support.smtp_server import SmtpServer

TEAM = "team-a@sunrise.example, team-b@sunrise.example"


def schedule(app: Flask, due_in: dt.timedelta, assignee: str = "active") -> tuple[int, str]:
    """A callback due `due_in` from now, for a lead with secret-looking details."""
    db = database(app)
    with db.transaction() as session:
        user = factories.user(session, "coordinator", email=f"{assignee}@clinic.example")
        lead = factories.lead(
            session, first_name="Secretname", message="I feel hopeless", assignee_id=user.id
        )
        now = utcnow()
        callback = callbacks.schedule(
            session, lead.id, now + max(due_in, dt.timedelta(0)), Actor(user.id, user.email), now
        )
        if due_in < dt.timedelta(0):
            callback.due_at = now + due_in  # scheduled earlier, for a time now past
        if assignee == "gone":
            user.active = False
        return callback.id, user.email


def reminder_messages(app: Flask) -> list[Message]:
    with database(app).session() as session:
        return list(
            session.scalars(sa.select(Message).where(Message.template_key == reminders.TEMPLATE))
        )


def test_a_due_callback_emails_its_assignee_once_without_health_detail(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = wired_app(TEAM_EMAILS=TEAM)
    db, settings = database(app), settings_of(app)
    callback_id, email = schedule(app, dt.timedelta(minutes=30))
    now = utcnow()

    # A controllable clock: nothing before the due time, one reminder at it, none after.
    assert reminders.sweep(db, settings, now + dt.timedelta(minutes=29)) == 0
    assert reminder_messages(app) == []
    assert reminders.sweep(db, settings, now + dt.timedelta(minutes=31)) == 1
    assert reminders.sweep(db, settings, now + dt.timedelta(minutes=45)) == 0
    (message,) = reminder_messages(app)
    assert (message.audience, message.channel, message.recipient) == ("team", "email", email)
    with db.session() as session:
        assert session.get_one(CallbackRequest, callback_id).reminded_at is not None

    with app.app_context():
        tick(app)
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == (email,)
    assert mail.message["Subject"].startswith("A callback is due now (ref ")
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "/staff/leads/" in text
    assert "Secretname" not in text and "hopeless" not in text


def test_a_callback_without_an_active_assignee_reminds_the_team(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(TEAM_EMAILS=TEAM)
    schedule(app, -dt.timedelta(minutes=1), assignee="gone")
    assert reminders.sweep(database(app), settings_of(app)) == 1
    assert sorted(m.recipient for m in reminder_messages(app)) == [
        "team-a@sunrise.example",
        "team-b@sunrise.example",
    ]


def test_done_callbacks_and_spam_leads_get_no_reminder(ready_app: Callable[..., Flask]) -> None:
    app = ready_app(TEAM_EMAILS=TEAM)
    db = database(app)
    done_id, _ = schedule(app, -dt.timedelta(minutes=5), assignee="one")
    spam_id, _ = schedule(app, -dt.timedelta(minutes=5), assignee="two")
    with db.transaction() as session:
        session.get_one(CallbackRequest, done_id).completed_at = utcnow()
        lead_id = session.get_one(CallbackRequest, spam_id).lead_id
        session.get_one(Lead, lead_id).status = "spam"
    assert reminders.sweep(db, settings_of(app)) == 0
    assert reminder_messages(app) == []


def test_the_beat_runs_the_sweep_as_a_registered_task(ready_app: Callable[..., Flask]) -> None:
    app = ready_app(TEAM_EMAILS=TEAM)
    celery = app.extensions["celery"]
    assert broker.REMIND_CALLBACKS in celery.tasks
    scheduled = {e["task"] for e in celery.conf.beat_schedule.values()}
    assert broker.REMIND_CALLBACKS in scheduled
    schedule(app, -dt.timedelta(minutes=1))
    with app.app_context():
        tasks.remind_callbacks()
    (message,) = reminder_messages(app)
    # Handed to a worker at once, as the other sweeps do.
    assert message.status == "queued"
