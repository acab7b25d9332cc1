"""Worker processes' heartbeats: which process holds a message, and whether it is still alive."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow


class WorkerHeartbeat(Base):
    """One process that runs tasks: written when it starts, refreshed every few seconds.

    A row whose `seen_at` is older than `DELIVERY_WORKER_DEAD_AFTER` is a dead process: what it
    held (messages.held_by) is handed on at once (domain/outreach/liveness.py). `seen_at` is the
    database's clock on PostgreSQL, so hosts' clocks never decide who is dead.
    """

    __tablename__ = "worker_heartbeats"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # a random id per process
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # When a sweep noticed it dead and handed on what it may have taken from the broker.
    buried_at: Mapped[dt.datetime | None]
