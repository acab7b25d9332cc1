"""Texts from numbers no lead gave, as staff read them: kept, never dropped, each view audited.

Whatever a person texted is health information until someone has read it, so the list and
each text's page go on the audit trail as a lead's page does (ids and counts, never words).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.domain.leads.replies import Reply, from_unknown_numbers, unknown_number_text
from intake_service.domain.outreach.text_pages import UnknownText

__all__ = ["UnknownText", "listing", "one"]


def listing(
    session: Session, actor: audit.Actor, now: dt.datetime, limit: int = 100
) -> list[Reply]:
    """The newest texts from numbers no lead gave, for the staff app; audited (not committed)."""
    rows = from_unknown_numbers(session, limit)
    audit.record(session, actor, "texts.viewed", detail={"count": len(rows)}, at=now)
    return rows


def one(session: Session, actor: audit.Actor, inbound_id: int, now: dt.datetime) -> Reply:
    """One such text for its staff page; audited (not committed). Raises UnknownText."""
    reply = unknown_number_text(session, inbound_id)
    if reply is None:
        raise UnknownText(str(inbound_id))
    audit.record(session, actor, "text.viewed", detail={"text": inbound_id}, at=now)
    return reply
