"""Reading the dev mailbox: the mail and texts the embedded default kept instead of sending."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from intake_service.config import Settings
from intake_service.db import Database
from intake_service.models import DevMailboxEntry

LIST_LIMIT = 200
# The widest id the table's integer key holds (PostgreSQL's integer); beyond it there is no
# entry, and asking the database would only fail (SQLite overflows past 2**63, PostgreSQL past
# this).
MAX_ENTRY_ID = 2**31 - 1


@dataclass(frozen=True)
class EntrySummary:
    id: int
    created_at: dt.datetime
    channel: str
    recipient: str
    subject: str  # the email subject, or the start of a text


@dataclass(frozen=True)
class Entry:
    id: int
    created_at: dt.datetime
    channel: str
    sender: str
    recipient: str
    subject: str | None
    body_text: str
    body_html: str | None
    headers: dict[str, str]


def available(settings: Settings) -> bool:
    """True when some message may land in the dev mailbox and this is not production."""
    uses_dev_mailbox = settings.embedded or settings.smtp is None or settings.twilio is None
    # Even a misconfigured production must never expose what was sent to patients.
    return uses_dev_mailbox and settings.app_env != "production"


def recent(db: Database, limit: int = LIST_LIMIT) -> list[EntrySummary]:
    """The newest entries first, at most `limit`."""
    with db.session() as session:
        rows = session.scalars(
            select(DevMailboxEntry)
            .order_by(DevMailboxEntry.created_at.desc(), DevMailboxEntry.id.desc())
            .limit(limit)
        )
        return [
            EntrySummary(
                id=row.id,
                created_at=row.created_at,
                channel=row.channel,
                recipient=row.recipient,
                subject=row.subject or _preview(row.body_text),
            )
            for row in rows
        ]


def get(db: Database, entry_id: int) -> Entry | None:
    """One entry with its bodies, or None if there is no such entry."""
    if not 0 < entry_id <= MAX_ENTRY_ID:
        return None
    with db.session() as session:
        row = session.get(DevMailboxEntry, entry_id)
        if row is None:
            return None
        return Entry(
            id=row.id,
            created_at=row.created_at,
            channel=row.channel,
            sender=row.sender,
            recipient=row.recipient,
            subject=row.subject,
            body_text=row.body_text,
            body_html=row.body_html,
            headers={str(k): str(v) for k, v in (row.headers or {}).items()},
        )


def _preview(text: str, length: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"
