"""Write one lead event and its audit line together, so the timeline and the trail agree."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.models import LeadEvent

# The audit kind for each lead event kind.
AUDIT_KIND = {
    "claimed": "lead.claimed",
    "assigned": "lead.assigned",
    "status_changed": "lead.status_changed",
    "call_logged": "lead.call_logged",
    "note_added": "lead.note_added",
    "callback_scheduled": "lead.callback_scheduled",
    "callback_done": "lead.callback_done",
    "acknowledged": "lead.acknowledged",
}


def record(
    session: Session,
    lead_id: uuid.UUID,
    kind: str,
    actor: audit.Actor,
    at: dt.datetime,
    data: dict[str, Any] | None = None,
    note: str | None = None,
) -> LeadEvent:
    """Add a LeadEvent and the matching AuditEvent (not committed).

    `data` holds codes and ids only; free text goes in `note`, which is encrypted and never
    copied to the audit trail (the trail says a note was added, not what it says).
    """
    event = LeadEvent(
        lead_id=lead_id, kind=kind, actor_id=actor.id, at=at, data=data or {}, note=note
    )
    session.add(event)
    audit.record(session, actor, AUDIT_KIND[kind], lead_id=lead_id, detail=data, at=at)
    return event
