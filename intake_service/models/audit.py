"""The audit trail: who saw or did what, and when. Rows are only ever added."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Index, String, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from intake_service.db import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_lead_id_at", "lead_id", "at"),
        Index("ix_audit_events_actor_id_at", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # No foreign keys on purpose: the trail outlives a deleted lead or account.
    actor_id: Mapped[int | None]
    actor_email: Mapped[str | None] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(40))  # "lead.viewed", "auth.login", ...
    lead_id: Mapped[uuid.UUID | None]
    address: Mapped[str | None] = mapped_column(String(64))
    # Ids, codes and field names only, never health information (names, answers, notes).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditIsAppendOnly(Exception):
    """Something tried to change or remove an audit row."""


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: AuditEvent) -> None:
    # The ORM door; on PostgreSQL a trigger (see the migration) also shuts the SQL door.
    raise AuditIsAppendOnly(f"audit event {target.id} cannot be changed or deleted")
