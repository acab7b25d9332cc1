"""Outbox events: written in the same transaction as the lead, published to the broker after."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    # The sweep looks for events not yet processed; keep that scan cheap.
    __table_args__ = (Index("ix_outbox_events_pending", "processed_at", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # "lead.submitted"
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None]
    publish_count: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[dt.datetime | None]
