"""Factories: rows in any state, built directly, without running intake or the pipeline.

Each takes an open SQLAlchemy session and adds (and flushes) rows; the caller commits, usually
with `with db.transaction() as session:`. Every field can be overridden by keyword.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from sqlalchemy.orm import Session

from intake_service.db import utcnow
from intake_service.models import (
    CallbackRequest,
    ConsentEvent,
    Lead,
    LeadEvent,
    Message,
    Submission,
    Triage,
    User,
)
from intake_service.security.passwords import hash_password

STAFF_PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)
_password_hash: str | None = None


def _hash() -> str:
    # Argon2 is slow on purpose; tests share one hash of the standard password.
    global _password_hash
    if _password_hash is None:
        _password_hash = hash_password(STAFF_PASSWORD)
    return _password_hash


def user(session: Session, role: str = "coordinator", **fields: Any) -> User:
    n = next(_counter)
    values: dict[str, Any] = {
        "email": f"{role}{n}@clinic.example",
        "role": role,
        "display_name": f"{role.capitalize()} {n}",
        "active": True,
    }
    password = fields.pop("password", None)
    values.update(fields)
    row = User(password_hash=hash_password(password) if password else _hash(), **values)
    session.add(row)
    session.flush()
    return row


def lead(
    session: Session,
    *,
    age: dt.timedelta = dt.timedelta(minutes=5),
    form: str = "contact",
    message: str | None = "I would like to know more.",
    answers: dict[str, Any] | None = None,
    submissions: int = 1,
    triage: dict[str, Any] | None = None,
    sms_consent: bool = False,
    **fields: Any,
) -> Lead:
    """A lead that arrived `age` ago with `submissions` form posts; optionally triaged."""
    n = next(_counter)
    created = fields.pop("created_at", None) or utcnow() - age
    values: dict[str, Any] = {
        "first_name": f"Pat{n}",
        "last_name": "Example",
        "email": f"pat{n}@patients.example",
        "phone": f"+1213555{n % 10000:04d}",
        "treatment_interest": "tms",
        "status": "new",
        "created_at": created,
        "updated_at": created,
    }
    values.update(fields)
    row = Lead(**values)
    session.add(row)
    session.flush()
    first = None
    for i in range(submissions):
        sub = Submission(
            lead_id=row.id,
            created_at=created + dt.timedelta(days=i),
            form=form,
            via="web",
            answers=answers,
            message=message,
            fingerprint=uuid.uuid4().hex,
        )
        session.add(sub)
        first = first or sub
    session.add(
        ConsentEvent(
            lead_id=row.id,
            channel="email",
            action="opt_in",
            occurred_at=created,
            wording_version="email-2026-11",
            wording="You may email me.",
            source="web_form",
        )
    )
    if sms_consent:
        consent_event(session, row, "sms", "opt_in", at=created)
    session.flush()
    if triage is not None:
        assert first is not None
        values = {
            "rules_version": "test",
            "score": None,
            "priority": "normal",
            "candidacy": None,
            "reasons": [],
        }
        values.update(triage)
        session.add(Triage(lead_id=row.id, submission_id=first.id, created_at=created, **values))
        row.priority = values["priority"]
        session.flush()
    return row


def consent_event(
    session: Session, lead_row: Lead, channel: str, action: str, at: dt.datetime | None = None
) -> ConsentEvent:
    row = ConsentEvent(
        lead_id=lead_row.id,
        channel=channel,
        action=action,
        occurred_at=at or utcnow(),
        wording_version=f"{channel}-test",
        wording="Test wording.",
        source="web_form" if action == "opt_in" else "sms_keyword",
    )
    session.add(row)
    session.flush()
    return row


def message(session: Session, lead_row: Lead, status: str = "sent", **fields: Any) -> Message:
    """A message in any status, e.g. message(s, lead, "failed", last_error="21211 invalid To")."""
    n = next(_counter)
    now = utcnow()
    values: dict[str, Any] = {
        "plan_key": f"test{n}",
        "step_key": "first",
        "audience": "patient",
        "channel": "sms",
        "template_key": "patient_first_reply",
        "recipient": lead_row.phone or lead_row.email or "nobody",
        "status": status,
        "due_at": now,
        "body_text": "Thanks for contacting the clinic.",
        "sent_at": now if status in ("sent", "delivered", "undelivered") else None,
        "failed_at": now if status == "failed" else None,
        "delivered_at": now if status == "delivered" else None,
    }
    values.update(fields)
    row = Message(lead_id=lead_row.id, **values)
    session.add(row)
    session.flush()
    return row


def lead_event(
    session: Session,
    lead_row: Lead,
    kind: str,
    at: dt.datetime,
    actor: User | None = None,
    note: str | None = None,
    **data: Any,
) -> LeadEvent:
    """A timeline event without its audit line, e.g. a call logged an hour ago."""
    row = LeadEvent(
        lead_id=lead_row.id,
        kind=kind,
        at=at,
        actor_id=actor.id if actor else None,
        data=data,
        note=note,
    )
    session.add(row)
    session.flush()
    return row


def callback(
    session: Session,
    lead_row: Lead,
    due_at: dt.datetime | None,
    origin: str = "staff",
    **fields: Any,
) -> CallbackRequest:
    row = CallbackRequest(lead_id=lead_row.id, due_at=due_at, origin=origin, **fields)
    session.add(row)
    session.flush()
    return row
