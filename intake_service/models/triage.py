"""The triage of a lead: score, priority, candidacy and the reasons for them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake_service.db import Base, utcnow
from intake_service.security.encryption import EncryptedJSON

if TYPE_CHECKING:
    from intake_service.models.lead import Lead


class Triage(Base):
    __tablename__ = "triages"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), unique=True
    )
    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rules_version: Mapped[str] = mapped_column(String(20))
    score: Mapped[int | None]
    priority: Mapped[str] = mapped_column(String(20))  # "high" | "normal" | "low"
    candidacy: Mapped[str | None] = mapped_column(String(20))  # "likely" | "possible" | "unlikely"
    # Reason codes are derived from answers, so they are health information too.
    reasons: Mapped[list[str]] = mapped_column(EncryptedJSON, default=list)
    # {service: {"level": ..., "reasons": [...]}} and [{"code", "services", "source"}]: derived
    # from answers and free text, so encrypted like them.
    candidacies: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    flags: Mapped[list[dict[str, Any]] | None] = mapped_column(EncryptedJSON)
    # The crisis detector's version and what it found: [{"rule", "category", "words"}]; the
    # words are the patient's own, so they are encrypted.
    crisis_version: Mapped[str | None] = mapped_column(String(40))
    crisis: Mapped[list[dict[str, Any]] | None] = mapped_column(EncryptedJSON)

    lead: Mapped[Lead] = relationship(back_populates="triage")
