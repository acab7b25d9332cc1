"""Who owns a lead: claim it (first one wins) or assign it to someone."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.domain.leads import events
from intake_service.domain.leads.status import get_lead
from intake_service.models import Lead, User


@dataclass(frozen=True)
class Claim:
    """How a claim went: won, already the claimer's, or lost to `holder`."""

    outcome: str  # "won" | "already_yours" | "lost"
    holder: str | None = None


class CannotAssign(ValueError):
    """The account cannot take leads (unknown or disabled)."""


def claim(session: Session, lead_id: uuid.UUID, actor: audit.Actor, now: dt.datetime) -> Claim:
    """Take an unassigned lead (not committed); a lost claim is audited, not raised.

    A compare-and-set in one UPDATE: of two people claiming at once, the database lets one
    row change and the other sees none (PostgreSQL re-checks the WHERE after the first
    commits; SQLite has one writer). Raises UnknownLead, or AlreadyClaimed for the loser.
    """
    changed = session.execute(
        update(Lead)
        .where(Lead.id == lead_id, Lead.assignee_id.is_(None))
        .values(assignee_id=actor.id, assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount == 1:  # type: ignore[attr-defined]
        events.record(session, lead_id, "claimed", actor, now, {"user_id": actor.id})
        return Claim("won")
    lead = get_lead(session, lead_id)
    session.refresh(lead)
    if lead.assignee_id == actor.id:
        return Claim("already_yours")
    holder = session.get(User, lead.assignee_id) if lead.assignee_id else None
    audit.record(session, actor, "lead.claim_lost", lead_id=lead_id, at=now)
    return Claim("lost", holder.label if holder else "someone else")


def assign(
    session: Session,
    lead_id: uuid.UUID,
    user_id: int | None,
    actor: audit.Actor,
    now: dt.datetime,
) -> None:
    """Give the lead to an active account, or to nobody with None (not committed).

    Raises UnknownLead or CannotAssign.
    """
    lead = get_lead(session, lead_id)
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise CannotAssign("that account cannot take leads")
    if lead.assignee_id == user_id:
        return
    data = {"from": lead.assignee_id, "to": user_id}
    lead.assignee_id = user_id
    lead.assigned_at = now if user_id is not None else None
    events.record(session, lead_id, "assigned", actor, now, data)
