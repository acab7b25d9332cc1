"""Urgent pages: one row per round of paging an urgent lead, due at a time (never a countdown)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow
from intake_service.models.message import ABOUT


class UrgentPage(Base):
    __tablename__ = "urgent_pages"
    __table_args__ = (
        UniqueConstraint("lead_id", "round", name="uq_urgent_pages_lead_id_round"),
        UniqueConstraint(
            "inbound_message_id", "round", name="uq_urgent_pages_inbound_message_id_round"
        ),
        CheckConstraint(ABOUT, name="about"),
        # The sweep looks for open pages whose time has come.
        Index("ix_urgent_pages_open_due", "done_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # An urgent lead's rounds, or a crisis text's from a number no lead gave.
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int]  # 1 is the first page; 2 and later page the whole team too
    due_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # "paged" | "acknowledged"
