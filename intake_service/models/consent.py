"""The consent ledger: every opt-in and opt-out, with the evidence that proves it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake_service.db import Base, utcnow

if TYPE_CHECKING:
    from intake_service.models.lead import Lead


class ConsentEvent(Base):
    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))  # "sms" | "email"
    action: Mapped[str] = mapped_column(String(10))  # "opt_in" | "opt_out"
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The exact words the person agreed to, and their version: the proof of consent.
    wording_version: Mapped[str] = mapped_column(String(40))
    wording: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # "web_form" | "api" | "sms_keyword"
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)

    lead: Mapped[Lead] = relationship(back_populates="consent_events")
