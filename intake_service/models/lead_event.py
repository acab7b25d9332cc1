"""Structured lead activity: claims, assignments, calls, notes, status changes, callbacks.

The timeline and the speed-to-lead figures are read from these rows, never from mutable
fields on the lead, so a reopened conversation cannot rewrite its first response time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow
from intake_service.security.encryption import EncryptedText

EVENT_KINDS = (
    "claimed",
    "assigned",
    "status_changed",
    "call_logged",
    "note_added",
    "callback_scheduled",
    "callback_done",
    "acknowledged",  # someone took an urgent lead: its re-pages stop
)
CALL_OUTCOMES = ("reached", "voicemail", "no_answer", "wrong_number")


class LeadEvent(Base):
    __tablename__ = "lead_events"
    __table_args__ = (
        Index("ix_lead_events_lead_id_at", "lead_id", "at"),
        Index("ix_lead_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Codes and ids: {"outcome": "voicemail"}, {"from": "new", "to": "contacted"}.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What staff wrote about the patient is health information: encrypted at rest.
    note: Mapped[str | None] = mapped_column(EncryptedText)


class CallbackRequest(Base):
    """A call owed to a patient: asked for by them, or promised by staff for a time."""

    __tablename__ = "callback_requests"
    __table_args__ = (Index("ix_callback_requests_open", "completed_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    origin: Mapped[str] = mapped_column(String(10))  # "patient" | "staff"
    due_at: Mapped[dt.datetime | None]  # None: as soon as possible in the patient's window
    window: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]
