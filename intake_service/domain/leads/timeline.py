"""One lead's timeline: every submission, message, consent change and staff event, in order.

Each source is one small function; a new kind of row (inbound replies, pages to the on-call
clinician) adds a source to SOURCES and a group to GROUPS.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.models import (
    ConsentEvent,
    InboundMessage,
    LeadEvent,
    Message,
    Submission,
    User,
)

GROUPS = {
    "submission": "Submissions",
    "message": "Messages",
    "consent": "Consent",
    "call": "Calls",
    "note": "Notes",
    "status": "Status and assignment",
    "callback": "Callbacks",
    "reply": "Texts from the patient",
}
_EVENT_GROUP = {
    "claimed": "status",
    "assigned": "status",
    "status_changed": "status",
    "call_logged": "call",
    "note_added": "note",
    "callback_scheduled": "callback",
    "callback_done": "callback",
    "acknowledged": "status",
}


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    group: str
    kind: str
    actor: str | None = None  # a person's label; None for the patient or the system
    text: str | None = None  # free text (a note, a message body): shown as text, escaped
    data: dict[str, Any] = field(default_factory=dict)


Source = Callable[[Session, uuid.UUID, dict[int, str]], list[Entry]]


def _submissions(session: Session, lead_id: uuid.UUID, _users: dict[int, str]) -> list[Entry]:
    rows = session.scalars(select(Submission).where(Submission.lead_id == lead_id))
    return [
        Entry(s.created_at, "submission", s.form, text=s.message, data={"via": s.via, "id": s.id})
        for s in rows
    ]


def _messages(session: Session, lead_id: uuid.UUID, _users: dict[int, str]) -> list[Entry]:
    rows = session.scalars(select(Message).where(Message.lead_id == lead_id))
    entries = []
    for m in rows:
        # The time that matters is when it went (or failed); a planned one shows its due time.
        at = (m.sent_at or m.failed_at or m.updated_at) if m.status != "planned" else m.due_at
        data = {
            "id": m.id,
            "audience": m.audience,
            "channel": m.channel,
            "template": m.template_key,
            "step": m.step_key,
            "status": m.status,
            "error": m.last_error,
            "recipient": m.recipient if m.audience == "patient" else "team",
            "delivered_at": m.delivered_at,
            "due_at": m.due_at,
        }
        entries.append(
            Entry(at, "message", f"{m.audience}_{m.channel}", text=m.body_text, data=data)
        )
    return entries


def _consent(session: Session, lead_id: uuid.UUID, _users: dict[int, str]) -> list[Entry]:
    rows = session.scalars(select(ConsentEvent).where(ConsentEvent.lead_id == lead_id))
    return [
        Entry(
            c.occurred_at,
            "consent",
            c.action,
            data={"channel": c.channel, "source": c.source, "version": c.wording_version},
        )
        for c in rows
    ]


def _lead_events(session: Session, lead_id: uuid.UUID, users: dict[int, str]) -> list[Entry]:
    rows = session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead_id))
    entries = []
    for e in rows:
        data = dict(e.data)
        for key in ("from", "to", "user_id"):
            # Assignment events hold account ids; show who they are.
            if e.kind in ("assigned", "claimed") and isinstance(data.get(key), int):
                data[f"{key}_label"] = users.get(data[key], "a former colleague")
        if isinstance(data.get("due_at"), str):
            data["due_at"] = dt.datetime.fromisoformat(data["due_at"])
        actor = users.get(e.actor_id) if e.actor_id else None
        entries.append(Entry(e.at, _EVENT_GROUP.get(e.kind, "status"), e.kind, actor, e.note, data))
    return entries


def _inbound(session: Session, lead_id: uuid.UUID, _users: dict[int, str]) -> list[Entry]:
    rows = session.scalars(select(InboundMessage).where(InboundMessage.lead_id == lead_id))
    return [
        Entry(
            r.received_at,
            "reply",
            r.kind,
            text=r.body,
            data={"id": r.id, "keyword": r.keyword, "auto_reply": r.auto_reply},
        )
        for r in rows
    ]


SOURCES: list[Source] = [_submissions, _messages, _consent, _lead_events, _inbound]


def timeline(
    session: Session, lead_id: uuid.UUID, groups: set[str] | None = None, newest_first: bool = True
) -> list[Entry]:
    """The lead's entries, optionally only some groups, newest or oldest first."""
    users = {u.id: u.label for u in session.scalars(select(User))}
    entries = [e for source in SOURCES for e in source(session, lead_id, users)]
    if groups:
        entries = [e for e in entries if e.group in groups]
    entries.sort(key=lambda e: e.at, reverse=newest_first)
    return entries
