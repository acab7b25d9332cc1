"""Retention: spam deleted after N days; closed leads' health fields erased after M days.

Run by a beat task once an hour; each pass is idempotent and says what it did in counts only.
A lead's time in its status is when a person last set that status (the timeline), or, for a
status set without a person, when the lead was last changed.

Spam leads are deleted the way a patient's own request deletes them (rights.delete_lead): the
consent ledger is archived as proof, the audit trail kept. A closed lead keeps its row, status,
contact points and consent ledger, but loses what it said about health: answers, free text,
staff notes, message bodies, triage (score, candidacy, reasons, flags).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from intake_service.db import Base, Database, utcnow
from intake_service.domain.compliance import audit, rights
from intake_service.models import Lead, LeadEvent, Triage
from intake_service.security.rotation import encrypted_tables

BATCH = 100
RETENTION_ACTOR = audit.Actor(None, "retention")


@dataclass(frozen=True)
class RetentionPolicy:
    spam_days: int  # 0 keeps spam for ever
    closed_days: int  # 0 keeps closed leads' health fields for ever


@dataclass(frozen=True)
class PurgeReport:
    spam_deleted: int
    health_erased: int


def _entered_status(session: Session, lead: Lead) -> dt.datetime:
    """When the lead took its current status: the last time a person set it, or its last change."""
    events = session.scalars(
        sa.select(LeadEvent)
        .where(LeadEvent.lead_id == lead.id, LeadEvent.kind == "status_changed")
        .order_by(LeadEvent.at.desc(), LeadEvent.id.desc())
    )
    for event in events:
        if event.data.get("to") == lead.status:
            return event.at
        break
    return lead.updated_at


def due(
    session: Session, status: str, cutoff: dt.datetime, after: uuid.UUID | None
) -> tuple[list[uuid.UUID], uuid.UUID | None]:
    """Of the next batch of leads in `status` (id order, after `after`), those in it since
    before `cutoff`; and the last id looked at (None when there are no more)."""
    query = sa.select(Lead).where(Lead.status == status).order_by(Lead.id).limit(BATCH)
    if status == "closed":
        query = query.where(Lead.health_erased_at.is_(None))
    if after is not None:
        query = query.where(Lead.id > after)
    leads = session.scalars(query).all()
    chosen = [lead.id for lead in leads if _entered_status(session, lead) < cutoff]
    return chosen, (leads[-1].id if leads else None)


def erase_health(session: Session, lead_id: uuid.UUID, now: dt.datetime) -> None:
    """Erase the lead's health fields and triage; the lead and its ledger stay (not committed)."""
    links = {link.table.name: link for link in rights.linked_tables()}
    for table in encrypted_tables(Base.metadata):
        link = links.get(table.name)
        if link is None:
            continue
        real = link.table
        condition = rights.rows_about(link, lead_id).whereclause
        assert condition is not None
        # A required column gets an empty value (still encrypted); others become NULL.
        values = {name: (None if real.c[name].nullable else "") for name in table.columns}
        session.execute(sa.update(real).where(condition).values(**values))
    session.execute(sa.delete(Triage).where(Triage.lead_id == lead_id))
    session.execute(sa.update(Lead).where(Lead.id == lead_id).values(health_erased_at=now))
    audit.record(session, RETENTION_ACTOR, "lead.health_erased", lead_id=lead_id, at=now)


def _walk(
    db: Database, status: str, cutoff: dt.datetime, act: Callable[[Session, uuid.UUID], object]
) -> int:
    done = 0
    after: uuid.UUID | None = None
    while True:
        with db.transaction() as session:
            chosen, after = due(session, status, cutoff, after)
            for lead_id in chosen:
                act(session, lead_id)
                done += 1
        if after is None:
            return done


def purge(db: Database, policy: RetentionPolicy, now: dt.datetime | None = None) -> PurgeReport:
    """Apply the retention policy; one transaction per batch of leads. Commits."""
    now = now or utcnow()
    spam = 0
    erased = 0
    if policy.spam_days > 0:
        cutoff = now - dt.timedelta(days=policy.spam_days)
        spam = _walk(
            db,
            "spam",
            cutoff,
            lambda session, lead_id: rights.delete_lead(
                session, lead_id, RETENTION_ACTOR, now, reason="retention"
            ),
        )
    if policy.closed_days > 0:
        cutoff = now - dt.timedelta(days=policy.closed_days)
        erased = _walk(
            db, "closed", cutoff, lambda session, lead_id: erase_health(session, lead_id, now)
        )
    if spam or erased:
        with db.transaction() as session:
            detail = {"spam_deleted": spam, "health_erased": erased}
            audit.record(session, RETENTION_ACTOR, "retention.purged", detail=detail, at=now)
    return PurgeReport(spam_deleted=spam, health_erased=erased)
