"""Texts patients (or anyone) send to the clinic's number, and the webhooks already handled."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow
from intake_service.security.encryption import EncryptedText

INBOUND_KINDS = ("opt_out", "opt_in", "help", "reply", "callback", "crisis")


class InboundMessage(Base):
    """One inbound text. Texts from numbers no lead gave are kept too (lead_id NULL)."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64), unique=True)  # Twilio's MessageSid
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    from_number: Mapped[str] = mapped_column(String(32), index=True)
    to_number: Mapped[str] = mapped_column(String(32))
    # Whatever the person wrote is health information until a person has read it: encrypted.
    body: Mapped[str] = mapped_column(EncryptedText)
    # The newest lead with this number; a STOP applies to every lead with it.
    lead_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # INBOUND_KINDS
    keyword: Mapped[str | None] = mapped_column(String(20))  # "STOP", "AYUDA"...
    auto_reply: Mapped[str | None] = mapped_column(String(40))  # which answer went back
    segments: Mapped[int | None]
    # The crisis rule the words raised (domain/triage/crisis.py), the words being in `body`.
    crisis_rule: Mapped[str | None] = mapped_column(String(40))
    # A crisis text from a number no lead gave pages on-call until someone takes it.
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))


class ProcessedWebhook(Base):
    """A webhook already acted on: Twilio retries, and a retry must change nothing."""

    __tablename__ = "processed_webhooks"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_processed_webhooks_kind_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "sms" | "status"
    key: Mapped[str] = mapped_column(String(100))  # MessageSid, or MessageSid:status
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class PendingStatus(Base):
    """A status callback for a SID no message holds yet: the sending worker has not recorded it.

    Applied the moment the SID lands (delivery's record of the send), or by the sweep.
    """

    __tablename__ = "pending_status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[int | None]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
