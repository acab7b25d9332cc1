"""Follow-up sequences: per treatment of interest, the steps a lead's messages follow."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake_service.db import Base, utcnow


class Sequence(Base):
    __tablename__ = "sequences"

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # "default" (templates/) | "admin"
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    steps: Mapped[list[SequenceStep]] = relationship(
        back_populates="sequence", order_by="SequenceStep.position", cascade="all, delete-orphan"
    )


class SequenceStep(Base):
    __tablename__ = "sequence_steps"
    __table_args__ = (
        UniqueConstraint(
            "sequence_id", "key", "audience", "channel", name="uq_sequence_steps_step"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    position: Mapped[int]
    key: Mapped[str] = mapped_column(String(40))  # "first" is first contact; others follow up
    audience: Mapped[str] = mapped_column(String(10))  # "team" | "patient"
    channel: Mapped[str] = mapped_column(String(10))
    template_key: Mapped[str] = mapped_column(String(100))
    delay_seconds: Mapped[int]  # after the lead arrived
    # A disabled step stays listed (and in the versions) but is not planned for new leads.
    enabled: Mapped[bool] = mapped_column(default=True)

    sequence: Mapped[Sequence] = relationship(back_populates="steps")


class SequenceVersion(Base):
    """A snapshot of a sequence's steps after each admin change: history, and what to restore."""

    __tablename__ = "sequence_versions"
    __table_args__ = (
        UniqueConstraint("sequence_id", "version", name="uq_sequence_versions_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    version: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_email: Mapped[str | None] = mapped_column(String(320))
    note: Mapped[str | None] = mapped_column(Text)
    # [{"key", "audience", "channel", "template_key", "delay_seconds", "enabled"}, ...] in order
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
