"""Routing as data an admin edits: rules that send a lead to a queue, and the queue's members."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake_service.db import Base, utcnow
from intake_service.models.user import User


class RoutingQueue(Base):
    __tablename__ = "routing_queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Where the team email goes (comma-separated); empty: the members' own addresses.
    emails: Mapped[str] = mapped_column(String(2000), default="")
    # Who hears when nobody in the queue acts in time (the escalation ladder's top).
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Round-robin: the position of the member who got the last lead.
    last_position: Mapped[int] = mapped_column(default=-1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    members: Mapped[list[QueueMember]] = relationship(
        back_populates="queue", order_by="QueueMember.position", cascade="all, delete-orphan"
    )
    lead_user: Mapped[User | None] = relationship()

    def addresses(self) -> list[str]:
        listed = [a.strip() for a in self.emails.split(",") if a.strip()]
        return listed or [m.user.email for m in self.members if m.user.active]


class QueueMember(Base):
    __tablename__ = "queue_members"
    __table_args__ = (UniqueConstraint("queue_id", "user_id", name="uq_queue_members_queue_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("routing_queues.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    # A clinician who is off (leave, a day off) is skipped by round-robin.
    off: Mapped[bool] = mapped_column(default=False)

    queue: Mapped[RoutingQueue] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class RoutingRule(Base):
    """The first matching rule (by position) picks the queue; a blank condition matches all."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    queue_id: Mapped[int] = mapped_column(ForeignKey("routing_queues.id", ondelete="CASCADE"))
    treatment: Mapped[str | None] = mapped_column(String(20))
    priority: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(100))  # utm_source or "how heard"
    # Clinic-local hours [from, to); from > to wraps past midnight (evenings and nights).
    hour_from: Mapped[int | None]
    hour_to: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)

    queue: Mapped[RoutingQueue] = relationship()
