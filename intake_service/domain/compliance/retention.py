"""Retention: spam deleted after N days; closed leads' health fields erased after M days, and
texts from numbers no lead gave deleted after the same M days.

Run by a beat task once an hour; each pass is idempotent and says what it did in counts only.
A lead's time in its status is when a person last set that status (the timeline), or, for a
status set without a person, when the lead was last changed.

Spam leads are deleted the way a patient's own request deletes them (rights.delete_lead): the
consent ledger is archived as proof, the audit trail kept. A closed lead keeps its row, status,
contact points and consent ledger, but loses what it said about health: answers, free text,
staff notes, message bodies, triage (score, candidacy, reasons, flags).

A text from a number no lead gave is nothing but what it said, so it goes whole once it is as
old as a closed lead's messages may be (RETENTION_CLOSED_DAYS), with the pages about it. What
the opt-out rules keep stays: a number's STOP (phone_opt_outs) outlives the text that said
it, as it outlives a deleted lead; the Twilio receipt (a MessageSid only) stays too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from intake_service.db import Base, Database, utcnow
from intake_service.domain.compliance import audit, rights, text_volume
from intake_service.models import InboundMessage, Lead, LeadEvent, Triage
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
    unknown_texts_deleted: int = 0


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


def delete_unknown_texts(db: Database, cutoff: dt.datetime) -> int:
    """Delete texts from numbers no lead gave received before `cutoff`, in batches. Commits.

    Their pages (messages and urgent_pages rows about them) go with them (ON DELETE
    CASCADE); a STOP they carried stays in phone_opt_outs, its evidence link set to NULL.
    """
    deleted = 0
    while True:
        with db.transaction() as session:
            ids = session.scalars(
                sa.select(InboundMessage.id)
                .where(InboundMessage.lead_id.is_(None), InboundMessage.received_at < cutoff)
                .order_by(InboundMessage.id)
                .limit(BATCH)
            ).all()
            if not ids:
                return deleted
            session.execute(sa.delete(InboundMessage).where(InboundMessage.id.in_(ids)))
            deleted += len(ids)


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
    texts = 0
    if policy.closed_days > 0:
        cutoff = now - dt.timedelta(days=policy.closed_days)
        erased = _walk(
            db, "closed", cutoff, lambda session, lead_id: erase_health(session, lead_id, now)
        )
        texts = delete_unknown_texts(db, cutoff)
    with db.transaction() as session:
        # Hourly counts of texts (no person in them) are kept only as long as the checks read.
        text_volume.forget_before(session, now)
    if spam or erased or texts:
        with db.transaction() as session:
            detail = {
                "spam_deleted": spam,
                "health_erased": erased,
                "unknown_texts_deleted": texts,
            }
            audit.record(session, RETENTION_ACTOR, "retention.purged", detail=detail, at=now)
    return PurgeReport(spam_deleted=spam, health_erased=erased, unknown_texts_deleted=texts)
