"""Rows of the abuse defences: the block list an admin edits, texting paused for a prefix, and
the hourly counts of texts the SMS-pumping checks read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow

BLOCK_KINDS = ("email", "domain", "phone_prefix", "word")
PAUSE_SCOPES = ("prefix", "country")


class BlockedValue(Base):
    """One entry of the spam block list: a submission matching it is stored as spam."""

    __tablename__ = "blocked_values"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_blocked_values_kind_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # one of BLOCK_KINDS
    value: Mapped[str] = mapped_column(String(320))  # stored case-folded (phone: E.164 prefix)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320))


class SmsPause(Base):
    """Texting paused to a phone prefix or a country after a sudden rise (SMS pumping)."""

    __tablename__ = "sms_pauses"
    __table_args__ = (UniqueConstraint("scope", "value", name="uq_sms_pauses_scope_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))  # one of PAUSE_SCOPES
    value: Mapped[str] = mapped_column(String(20))  # "+1213" or "US"
    paused_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(String(200))
    # Lifting keeps the row (and its history); a later surge pauses it again.
    lifted_at: Mapped[dt.datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(320))


class TextVolume(Base):
    """Texts to a phone prefix or to a country in one hour: what the SMS-pumping checks count.

    Written as texts are planned and as the provider takes them (domain/compliance/
    text_volume.py), so a check reads a few hundred small rows, not the messages table.
    """

    __tablename__ = "text_volume"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)  # one of PAUSE_SCOPES
    value: Mapped[str] = mapped_column(String(20), primary_key=True)  # "+1213" or "+1"
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)  # its start, UTC
    planned: Mapped[int] = mapped_column(Integer, default=0)  # texts planned in the hour
    at_provider: Mapped[int] = mapped_column(Integer, default=0)  # texts the provider took
