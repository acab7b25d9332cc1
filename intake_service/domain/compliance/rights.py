"""Patients' rights over their data: everything held about a lead exported, or the lead deleted.

What "everything" is comes from the schema, not from a list kept by hand: every table with a
`lead_id` column, and every table pointing at one of those (a message's delivery attempts).
A table added later is exported and deleted with the rest without anyone remembering to.

Deleting keeps two things, as the law allows: the consent ledger (copied to consent_archive
with the phone or email each line was about: proof of consent and of opt-outs), and the audit
trail (ids and codes only), which must show that the deletion happened and who asked for it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from intake_service.channels import kind
from intake_service.db import Base, utcnow
from intake_service.domain.compliance import audit
from intake_service.models import (
    ArchivedConsent,
    AuditEvent,
    ConsentEvent,
    DevMailboxEntry,
    Lead,
    PhoneOptOut,
)
from intake_service.security.blind_index import blind_index_of

EXPORT_FORMAT = "intake-service lead export v1"
# Kept when a lead is deleted: the trail of what happened to it, and the proof of consent.
# A number's STOP outlives the lead that gave it: the opt-out is the person's instruction and
# holds only the number; deleting it would let a later lead with that number be texted.
KEPT_TABLES = frozenset(
    {AuditEvent.__tablename__, ArchivedConsent.__tablename__, PhoneOptOut.__tablename__}
)


class UnknownLead(LookupError):
    """No lead has that id."""


@dataclass(frozen=True)
class Linked:
    """A table holding rows about a lead: directly (lead_id), or through a parent table."""

    table: sa.Table
    via: str  # the column holding the lead id, or the parent's key
    parent: Linked | None = None


def linked_tables() -> list[Linked]:
    """Every table with rows about a lead, parents before children."""
    direct = [
        Linked(table, "lead_id")
        for table in Base.metadata.sorted_tables
        if "lead_id" in table.c and table.name != Lead.__tablename__
    ]
    by_name = {link.table.name: link for link in direct}
    nested = []
    for table in Base.metadata.sorted_tables:
        if table.name in by_name or table.name == Lead.__tablename__:
            continue
        for key in table.foreign_keys:
            parent = by_name.get(key.column.table.name)
            if parent is not None:
                nested.append(Linked(table, key.parent.name, parent))
                break
    return direct + nested


def rows_about(link: Linked, lead_id: uuid.UUID) -> sa.Select[Any]:
    if link.parent is None:
        return sa.select(link.table).where(link.table.c[link.via] == lead_id)
    parent = link.parent.table
    (parent_key,) = parent.primary_key.columns
    parents = sa.select(parent_key).where(parent.c[link.parent.via] == lead_id)
    return sa.select(link.table).where(link.table.c[link.via].in_(parents))


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _lead_row(session: Session, lead_id: uuid.UUID) -> dict[str, Any]:
    table: sa.Table = Lead.__table__  # type: ignore[assignment]
    row = session.execute(sa.select(table).where(table.c.id == lead_id)).mappings().first()
    if row is None:
        raise UnknownLead(str(lead_id))
    return dict(row)


def _sent_to(session: Session, lead: dict[str, Any]) -> sa.ColumnElement[bool] | None:
    recipients = [value for value in (lead.get("phone"), lead.get("email")) if value]
    return DevMailboxEntry.recipient.in_(recipients) if recipients else None


def export_lead(
    session: Session, lead_id: uuid.UUID, actor: audit.Actor, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Everything held about the lead, as plain JSON-ready data; audited (not committed).

    Encrypted fields are given decrypted: the export is for the patient. Raises UnknownLead.
    """
    lead = _lead_row(session, lead_id)
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _plain(now or utcnow()),
        "lead": _plain(lead),
    }
    for link in linked_tables():
        rows = session.execute(rows_about(link, lead_id)).mappings().all()
        document[link.table.name] = [_plain(dict(row)) for row in rows]
    where = _sent_to(session, lead)
    if where is not None:
        mailbox: sa.Table = DevMailboxEntry.__table__  # type: ignore[assignment]
        sent = session.execute(sa.select(mailbox).where(where)).mappings().all()
        document[mailbox.name] = [_plain(dict(row)) for row in sent]
    audit.record(session, actor, "lead.exported", lead_id=lead_id, at=now)
    return document


def _archive_consent(session: Session, lead: dict[str, Any], now: dt.datetime) -> int:
    index = blind_index_of(session.get_bind().dialect)
    lines = session.scalars(
        sa.select(ConsentEvent)
        .where(ConsentEvent.lead_id == lead["id"])
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    ).all()
    for line in lines:
        field = kind(line.channel).address_field
        contact = lead.get(field)
        contact_hash = getattr(index, field)(contact) if contact else None
        session.add(
            ArchivedConsent(
                archived_at=now,
                lead_id=lead["id"],
                channel=line.channel,
                action=line.action,
                occurred_at=line.occurred_at,
                wording_version=line.wording_version,
                wording=line.wording,
                source=line.source,
                ip=line.ip,
                user_agent=line.user_agent,
                contact=contact,
                contact_hash=contact_hash,
            )
        )
    session.flush()
    return len(lines)


def _deleted(result: Any) -> int:
    return int(result.rowcount or 0)


def delete_lead(
    session: Session,
    lead_id: uuid.UUID,
    actor: audit.Actor,
    now: dt.datetime | None = None,
    reason: str = "request",
) -> dict[str, int]:
    """Delete the lead and everything about it but its consent ledger (archived) and audit
    trail; audited (not committed). Returns rows deleted per table. Raises UnknownLead.

    Rows go by SQL, not through the ORM: the session should hold no changed objects of the lead.
    """
    now = now or utcnow()
    lead = _lead_row(session, lead_id)
    archived = _archive_consent(session, lead, now)
    deleted: dict[str, int] = {}
    # Children before parents, so no foreign key is left pointing at a deleted row.
    for link in reversed(linked_tables()):
        if link.table.name in KEPT_TABLES:
            continue
        condition = rows_about(link, lead_id).whereclause
        assert condition is not None
        count = _deleted(session.execute(sa.delete(link.table).where(condition)))
        if count:
            deleted[link.table.name] = count
    where = _sent_to(session, lead)
    if where is not None:
        count = _deleted(session.execute(sa.delete(DevMailboxEntry).where(where)))
        if count:
            deleted[DevMailboxEntry.__tablename__] = count
    session.execute(sa.delete(Lead).where(Lead.id == lead_id))
    deleted[Lead.__tablename__] = 1
    audit.record(
        session,
        actor,
        "lead.deleted",
        lead_id=lead_id,
        detail={"reason": reason, "consent_lines_kept": archived, "rows": deleted},
        at=now,
    )
    return deleted
