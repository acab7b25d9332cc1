"""The audit trail: record who viewed or changed what. Append-only; rows are never changed.

Details carry ids and codes, never health information: a note's text or a patient's name
must not end up here, because admins and auditors read this trail broadly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.db import utcnow
from intake_service.models import AuditEvent

KINDS = (
    "auth.login",
    "auth.logout",
    "auth.login_failed",
    "auth.locked_out",
    "auth.session_expired",
    "lead.viewed",
    "lead.claimed",
    "lead.claim_lost",
    "lead.assigned",
    "lead.status_changed",
    "lead.call_logged",
    "lead.note_added",
    "lead.callback_scheduled",
    "lead.callback_done",
    "lead.message_sent",
    "lead.acknowledged",
    "user.created",
    "user.disabled",
    # The admin app (issue 12): each change with ids and before/after, never message bodies
    # or health information.
    "user.enabled",
    "user.invited",
    "user.invite_accepted",
    "user.role_changed",
    "user.password_reset",
    "user.password_set",
    "user.phone_changed",
    "template.saved",
    "template.restored",
    "template.test_sent",
    "sequence.changed",
    "sequence.restored",
    "settings.changed",
    "message.retried",
    "message.dismissed",
    # Issue 13: second factor, revoked sessions, patients' rights, retention, key changes.
    "auth.totp_enrolled",
    "auth.totp_disabled",
    "auth.totp_failed",
    "user.sessions_revoked",
    "lead.exported",
    "lead.deleted",
    "lead.health_erased",
    "retention.purged",
    "keys.rotated",
    "keys.reindexed",
    # Issue 10's defences as an admin edits them: the entry's or pause's id and kind, never
    # a lead's details.
    "blocklist.added",
    "blocklist.removed",
    "sms.pause_lifted",
    # Texts from numbers no lead gave (issue 8): who read them, who took a crisis one.
    "texts.viewed",
    "text.viewed",
    "text.acknowledged",
    # Routing edited in the admin app: the queue's, member's or rule's fields before and after
    # (staff ids, treatments and hours: configuration, never a lead's details).
    "routing.changed",
)


@dataclass(frozen=True)
class Actor:
    """Who did it: a staff account, or the command line (id None)."""

    id: int | None
    email: str | None
    address: str | None = None


def record(
    session: Session,
    actor: Actor,
    kind: str,
    lead_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Add one audit event (not committed). Raises ValueError for a kind not in KINDS."""
    if kind not in KINDS:
        raise ValueError(f"unknown audit event kind {kind!r}")
    event = AuditEvent(
        at=at or utcnow(),
        actor_id=actor.id,
        actor_email=actor.email,
        kind=kind,
        lead_id=lead_id,
        address=actor.address,
        detail=detail or {},
    )
    session.add(event)
    return event


def events(
    session: Session,
    lead_id: uuid.UUID | None = None,
    actor_id: int | None = None,
    kind: str | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[AuditEvent]:
    """The newest events, optionally for one lead, one person or one kind, or older than one."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    if lead_id is not None:
        query = query.where(AuditEvent.lead_id == lead_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if kind is not None:
        query = query.where(AuditEvent.kind == kind)
    return list(session.scalars(query))
