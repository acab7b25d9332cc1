"""The audit line for an admin's retry or dismissal of a dead letter.

dead_letters.retry and dismiss commit on their own (the command line calls them too); the
admin app records who did it right after, naming the message and its lead.
"""

from __future__ import annotations

from intake_service.db import Database
from intake_service.domain.compliance import audit
from intake_service.models import Message


def record_action(db: Database, actor: audit.Actor, kind: str, message_id: int) -> None:
    """Add one audit event for a retried or dismissed message. Commits."""
    with db.transaction() as session:
        message = session.get(Message, message_id)
        lead_id = message.lead_id if message else None
        audit.record(session, actor, kind, lead_id=lead_id, detail={"message_id": message_id})
