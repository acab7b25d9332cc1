"""Webhooks already handled: Twilio retries any it thinks failed, and a retry must change nothing.

A receipt is written in the same transaction as the webhook's effects, under a unique key, so
of two deliveries racing each other exactly one commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.db import Database, utcnow
from intake_service.models import ProcessedWebhook


def mark_processed(session: Session, kind: str, key: str) -> None:
    """Record a webhook as handled (flushed, so a repeat raises IntegrityError right here)."""
    session.add(ProcessedWebhook(kind=kind, key=key[:100], received_at=utcnow()))
    session.flush()


def was_processed(db: Database, kind: str, key: str) -> bool:
    with db.session() as session:
        found = session.scalar(
            select(ProcessedWebhook.id).where(
                ProcessedWebhook.kind == kind, ProcessedWebhook.key == key[:100]
            )
        )
    return found is not None
