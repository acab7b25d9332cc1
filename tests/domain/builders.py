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
from intake_service.domain import delivery, intake, processing
from intake_service.domain.templates import load_defaults
from intake_service.models import Message

PATIENT_EMAIL = "jane.doe@patients.example"
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


def process_and_deliver(app: Flask, lead_id: uuid.UUID) -> list[int]:
    """What the worker does for a new lead: process it, then deliver each due message once."""
    db, settings = database(app), settings_of(app)
    ids = processing.process_lead(db, settings, lead_id)
    for message_id in ids:
        delivery.deliver(db, settings, message_id)
    return ids
