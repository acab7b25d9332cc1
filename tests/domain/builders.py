"""Builders for domain tests: submissions, loaded templates, rows read back.

Plain functions, not fixtures, so tests in tests/domain and tests/tasks share them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask

from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.outreach import delivery, processing, scheduler, sequences
from intake_service.domain.templates.versions import load_defaults
from intake_service.models import DeliveryAttempt, Lead, Message

PATIENT_EMAIL = "jane.doe@patients.example"
# 254 characters, the longest address email-validator takes: every key built from it must fit.
LONGEST_EMAIL = f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * 53}.example"
PATIENT_PHONE = "+12133734253"
TMS_ALL_YES = {
    "struggles_with_depression_ocd_anxiety": True,
    "has_symptoms": True,
    "tried_antidepressants": True,
    "tried_talk_therapy": True,
    "doctor_suggested_tms": True,
}


def submission(**changes: Any) -> intake.SubmissionInput:
    """A TMS self-screen from Jane Doe with email, phone and SMS consent; override any field."""
    contact = changes.pop("contact", None) or intake.Contact(
        first_name="Jane",
        last_name="Doe",
        email=PATIENT_EMAIL,
        phone=PATIENT_PHONE,
        callback_window="evening",
    )
    values: dict[str, Any] = {
        "form": "tms_screen",
        "contact": contact,
        "treatment_interest": "tms",
        "answers": dict(TMS_ALL_YES),
        "sms_consent": True,
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (test)",
    }
    values.update(changes)
    return intake.SubmissionInput(**values)


def database(app: Flask) -> Database:
    db: Database = app.extensions["intake.db"]
    return db


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions["intake.settings"]
    return settings


def load_templates(db: Database) -> None:
    """What `intake-service templates load` does at deploy time."""
    with db.transaction() as session:
        load_defaults(session)
        sequences.load_defaults(session)


def messages_of(db: Database, lead_id: uuid.UUID) -> list[Message]:
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(Message).where(Message.lead_id == lead_id).order_by(Message.id)
            )
        )


def message(db: Database, message_id: int) -> Message:
    with db.session() as session:
        return session.get_one(Message, message_id)


def make_due_now(db: Database, message_id: int) -> None:
    """Move a message's due time into the past, as if its backoff had elapsed."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with db.transaction() as session:
        session.execute(sa.update(Message).where(Message.id == message_id).values(due_at=past))


def count(db: Database, table: str) -> int:
    with db.session() as session:
        return int(session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def submit(app: Flask, **changes: Any) -> uuid.UUID:
    return intake.submit(database(app), submission(**changes)).lead_id


def urgent_phq9(**changes: Any) -> dict[str, Any]:
    """Submission fields for a PHQ-9 with item 9 above 0: a safety flag, a person calls."""
    values: dict[str, Any] = {
        "form": "phq9",
        "treatment_interest": "psychiatry",
        "answers": {"items": [1, 1, 1, 1, 1, 1, 1, 1, 1]},
    }
    values.update(changes)
    return values


def process(app: Flask, lead_id: uuid.UUID) -> list[int]:
    return processing.process_lead(database(app), settings_of(app), lead_id)


def deliver(app: Flask, message_id: int) -> delivery.Outcome:
    return delivery.deliver(database(app), settings_of(app), message_id)


def tick(app: Flask) -> dict[int, delivery.Outcome]:
    """One scheduler tick and the workers it feeds: claim what is due, deliver each once."""
    db, settings = database(app), settings_of(app)
    return {
        i: delivery.deliver(db, settings, i) for i in scheduler.claim_due(db, settings.delivery)
    }


def find(
    app: Flask, lead_id: uuid.UUID, step: str, channel: str, audience: str = "patient"
) -> Message:
    """The lead's one message for this step, channel and audience."""
    (found,) = [
        m
        for m in messages_of(database(app), lead_id)
        if (m.step_key, m.channel, m.audience) == (step, channel, audience)
    ]
    return found


def lead_row(db: Database, lead_id: uuid.UUID) -> Lead:
    with db.session() as session:
        return session.get_one(Lead, lead_id)


def attempts_of(db: Database, message_id: int) -> list[tuple[int, str | None, str | None]]:
    """(number, outcome, detail) of every try at a message, in order."""
    with db.session() as session:
        rows = session.scalars(
            sa.select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.number, DeliveryAttempt.id)
        )
        return [(a.number, a.outcome, a.detail) for a in rows]


def set_columns(db: Database, message_id: int, **values: Any) -> None:
    with db.transaction() as session:
        session.execute(sa.update(Message).where(Message.id == message_id).values(**values))


def process_and_deliver(app: Flask, lead_id: uuid.UUID) -> list[int]:
    """What the worker does for a new lead: process it, then deliver each due message once."""
    db, settings = database(app), settings_of(app)
    ids = processing.process_lead(db, settings, lead_id)
    for message_id in ids:
        delivery.deliver(db, settings, message_id)
    return ids
