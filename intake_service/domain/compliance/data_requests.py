"""A person's data request as an admin handles it: find their lead, see what is held, then
export or delete it through `rights` (each audited there, with who and when).

A person asks by the contact points they gave, or by the short reference their messages carry
(`lead.ref`, the id's first 8 hex digits). Phones and emails are looked up through the blind
index, as staff search and the STOP replies do, never by scanning the contact columns.

Deletion asks the admin to type the lead's reference: a second, deliberate step, so a
mis-click on the wrong row of a search cannot delete anyone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit, rights
from intake_service.domain.intake.contact import InvalidContact, normalize_phone
from intake_service.domain.templates.message_context import reference
from intake_service.models import Lead
from intake_service.models.lead_index import has_email, has_phone

MAX_QUERY = 320
MAX_RESULTS = 50
_REFERENCE = re.compile(r"[0-9a-f]{8}")


class WrongConfirmation(ValueError):
    """The reference typed to confirm a deletion is not the lead's."""


@dataclass(frozen=True)
class Match:
    """A lead a search found: enough for the admin to tell it is the person who asked."""

    id: uuid.UUID
    ref: str
    name: str
    email: str | None
    phone: str | None
    status: str
    created_at: dt.datetime

    @classmethod
    def of(cls, lead: Lead) -> Match:
        return cls(
            lead.id,
            reference(lead.id),
            lead.full_name,
            lead.email,
            lead.phone,
            lead.status,
            lead.created_at,
        )


@dataclass(frozen=True)
class Held:
    """The lead and how many rows of each kind the service holds about it."""

    lead: Match
    rows: dict[str, int]  # table name -> rows about the lead (only tables with some)
    kept: tuple[str, ...]  # tables a deletion keeps (the consent proof, the audit trail)


def _conditions(query: str) -> list[sa.ColumnElement[bool]]:
    text = query.strip()
    terms: list[sa.ColumnElement[bool]] = []
    with contextlib.suppress(ValueError):
        terms.append(Lead.id == uuid.UUID(text))
    lowered = text.lower()
    if _REFERENCE.fullmatch(lowered):
        # Ids starting with these 8 hex digits: a range, so the primary key's index answers.
        terms.append(Lead.id.between(uuid.UUID(lowered + "0" * 24), uuid.UUID(lowered + "f" * 24)))
    if "@" in text:
        terms.append(has_email(text))
    else:
        with contextlib.suppress(InvalidContact):
            terms.append(has_phone(normalize_phone(text)))
    return terms


def find(session: Session, query: str) -> list[Match]:
    """Leads whose email, phone, reference or id is `query` (whole, not a part), newest first.

    Returns [] for a query that can name no lead (too long, or neither contact nor reference).
    """
    if not query.strip() or len(query) > MAX_QUERY:
        return []
    terms = _conditions(query)
    if not terms:
        return []
    leads = session.scalars(
        sa.select(Lead)
        .where(sa.or_(*terms))
        .order_by(Lead.created_at.desc(), Lead.id)
        .limit(MAX_RESULTS)
    )
    return [Match.of(lead) for lead in leads]


def _count(session: Session, link: rights.Linked, lead_id: uuid.UUID) -> int:
    rows = rights.rows_about(link, lead_id).subquery()
    return int(session.scalar(sa.select(sa.func.count()).select_from(rows)) or 0)


def open_request(
    session: Session, lead_id: uuid.UUID, actor: audit.Actor, now: dt.datetime | None = None
) -> Held:
    """What is held about the lead, for the admin answering a request; the view is audited
    like a staff view (not committed). Raises rights.UnknownLead."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise rights.UnknownLead(str(lead_id))
    counts = {link.table.name: _count(session, link, lead_id) for link in rights.linked_tables()}
    audit.record(
        session, actor, "lead.viewed", lead_id=lead_id, detail={"via": "data_request"}, at=now
    )
    return Held(
        Match.of(lead),
        {name: n for name, n in counts.items() if n},
        tuple(sorted(rights.KEPT_TABLES)),
    )


def export(
    session: Session, lead_id: uuid.UUID, actor: audit.Actor, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Everything held about the lead, for the person who asked (audited; not committed)."""
    return rights.export_lead(session, lead_id, actor, now)


def confirms(lead_id: uuid.UUID, typed: str) -> bool:
    """Whether `typed` is the lead's reference (spaces and case do not matter)."""
    return typed.strip().lower() == reference(lead_id)


def delete(
    session: Session,
    lead_id: uuid.UUID,
    typed: str,
    actor: audit.Actor,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Delete the lead on the person's request once `typed` is its reference (audited; not
    committed). Raises WrongConfirmation before touching anything, or rights.UnknownLead."""
    if not confirms(lead_id, typed):
        raise WrongConfirmation(
            f"type the lead's reference, {reference(lead_id)}, to confirm the deletion"
        )
    return rights.delete_lead(session, lead_id, actor, now, reason="request")
