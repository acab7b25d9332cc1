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
    """One opt-in or opt-out. Kept when its lead is deleted (lead_id becomes NULL): the law asks
    for the proof of consent, so the event names the address it was about on its own."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))  # "sms" | "email"
    # The phone (E.164) or email address the person agreed, or refused, to be contacted at.
    contact_point: Mapped[str | None] = mapped_column(String(320), index=True)
    action: Mapped[str] = mapped_column(String(10))  # "opt_in" | "opt_out"
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The exact words the person agreed to, and their version: the proof of consent.
    wording_version: Mapped[str] = mapped_column(String(40))
    wording: Mapped[str] = mapped_column(Text)
    # "web_form" | "api" | "sms_keyword" | "provider" (Twilio 21610) | "email_link" |
    # "email_one-click" (RFC 8058)
    source: Mapped[str] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    # For a keyword texted in (STOP, START): the inbound message is the evidence.
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )

    lead: Mapped[Lead | None] = relationship(back_populates="consent_events")


class PhoneOptOut(Base):
    """A number that texted STOP: nothing is texted to it, for any lead, until it texts START.

    Kept per number, not per lead, because the opt-out is the person's (and Twilio blocks the
    number the same way): a lead submitted later with the same number must not be texted either.
    """

    __tablename__ = "phone_opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    since: Mapped[dt.datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(20))  # "sms_keyword" | "provider"
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )
