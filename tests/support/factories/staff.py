"""Staff accounts, and what staff add to a lead: timeline events and callbacks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from intake_service.models import CallbackRequest, LeadEvent, User
from intake_service.security.passwords import hash_password
from tests.support.factories.base import LeadRef, Target, counter, id_of, writing

STAFF_PASSWORD = "correct horse battery staple"
_password_hash: str | None = None


def _hash() -> str:
    # Argon2 is slow on purpose; tests share one hash of the standard password.
    global _password_hash
    if _password_hash is None:
        _password_hash = hash_password(STAFF_PASSWORD)
    return _password_hash


def user(target: Target, role: str = "coordinator", **fields: Any) -> User:
    """An active staff account with STAFF_PASSWORD (or `password=`)."""
    n = next(counter)
    values: dict[str, Any] = {
        "email": f"{role}{n}@clinic.example",
        "role": role,
        "display_name": f"{role.capitalize()} {n}",
        "active": True,
    }
    password = fields.pop("password", None)
    values.update(fields)
    row = User(password_hash=hash_password(password) if password else _hash(), **values)
    with writing(target) as session:
        session.add(row)
    return row


def lead_event(
    target: Target,
    lead: LeadRef,
    kind: str,
    at: dt.datetime,
    actor: User | None = None,
    note: str | None = None,
    **data: Any,
) -> LeadEvent:
    """A timeline event without its audit line, e.g. a call logged an hour ago."""
    row = LeadEvent(
        lead_id=id_of(lead),
        kind=kind,
        at=at,
        actor_id=actor.id if actor else None,
        data=data,
        note=note,
    )
    with writing(target) as session:
        session.add(row)
    return row


def callback(
    target: Target,
    lead: LeadRef,
    due_at: dt.datetime | None,
    origin: str = "staff",
    **fields: Any,
) -> CallbackRequest:
    """A callback the lead asked for (or staff promised), due at `due_at`."""
    row = CallbackRequest(lead_id=id_of(lead), due_at=due_at, origin=origin, **fields)
    with writing(target) as session:
        session.add(row)
    return row
