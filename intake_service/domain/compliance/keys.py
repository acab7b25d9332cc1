"""Key changes over stored data: field keys rotated, the blind index rebuilt. Both audited.

The field cipher and the blind-index key each protect data already written; changing either
means rewriting it. Both walk their tables in batches, one transaction each, so they can run
on a live system and be started again after an interruption.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from intake_service.channels import kind
from intake_service.db import Base, Database, utcnow
from intake_service.domain.compliance import audit
from intake_service.models import ArchivedConsent, Lead
from intake_service.security.blind_index import BlindIndex, blind_index_of
from intake_service.security.rotation import (
    DEFAULT_BATCH,
    KeyRotation,
    Progress,
    RotationReport,
    encrypted_tables,
)


def field_key_rotation(
    db: Database, keys: tuple[str, ...], batch_size: int = DEFAULT_BATCH
) -> KeyRotation:
    """The rotation of every encrypted column in the schema to the first of `keys`."""
    return KeyRotation(db.engine, keys, encrypted_tables(Base.metadata), batch_size)


def rotate_field_keys(
    db: Database,
    keys: tuple[str, ...],
    actor: audit.Actor,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> RotationReport:
    """Re-encrypt everything under the newest key, then audit the counts. Commits per batch."""
    report = field_key_rotation(db, keys, batch_size).rotate(progress)
    with db.transaction() as session:
        audit.record(
            session,
            actor,
            "keys.rotated",
            detail={"rotated": report.total_rotated, "unreadable": report.total_unreadable},
        )
    return report


def reindex_contacts(
    db: Database,
    actor: audit.Actor,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Recompute every blind-index hash with the engine's key (after BLIND_INDEX_KEY changed).

    Returns the rows rewritten; commits per batch.
    """
    index = blind_index_of(db.engine.dialect)

    def lead_hashes(row: Any) -> dict[str, str | None]:
        return {
            "phone_hash": index.phone(row.phone) if row.phone else None,
            "email_hash": index.email(row.email) if row.email else None,
        }

    def archive_hashes(row: Any) -> dict[str, str | None]:
        return {"contact_hash": _contact_hash(index, row.channel, row.contact)}

    leads: sa.Table = Lead.__table__  # type: ignore[assignment]
    archive: sa.Table = ArchivedConsent.__table__  # type: ignore[assignment]
    changed = _reindex(db, leads, ("phone", "email"), lead_hashes, batch_size, progress)
    changed += _reindex(db, archive, ("channel", "contact"), archive_hashes, batch_size, progress)
    with db.transaction() as session:
        audit.record(session, actor, "keys.reindexed", detail={"rows": changed}, at=now or utcnow())
    return changed


def _contact_hash(index: BlindIndex, channel: str, contact: str | None) -> str | None:
    if not contact:
        return None
    hashed: str = getattr(index, kind(channel).address_field)(contact)
    return hashed


def _reindex(
    db: Database,
    table: sa.Table,
    sources: tuple[str, ...],
    hashes: Callable[[Any], dict[str, str | None]],
    batch_size: int,
    progress: Progress | None,
) -> int:
    # Raw columns: an update here must not bump leads.updated_at (retention reads it).
    names = ("id", *sources, *(c.name for c in table.columns if c.name.endswith("_hash")))
    raw = sa.table(table.name, *(sa.column(name, table.c[name].type) for name in names))
    key = raw.c.id
    total = 0
    last = None
    with db.engine.connect() as connection:
        remaining = connection.scalar(sa.select(sa.func.count()).select_from(raw)) or 0
    while True:
        with db.engine.begin() as connection:
            query = sa.select(key, *(raw.c[s] for s in sources)).order_by(key).limit(batch_size)
            rows = connection.execute(query if last is None else query.where(key > last)).all()
            if not rows:
                return total
            for row in rows:
                connection.execute(raw.update().where(key == row.id).values(**hashes(row)))
            last = rows[-1].id
        total += len(rows)
        remaining -= len(rows)
        if progress is not None:
            progress(table.name, total, max(remaining, 0))
