"""Texting paused by the SMS-pumping watch, as an admin sees and lifts it (audited).

`pumping.watch` makes the pauses; a person who has looked (the surge was a real campaign, or
the fraud stopped) lifts one here, and texts to that prefix or country go again.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit, pumping
from intake_service.models import SmsPause

RECENTLY_LIFTED = 20  # lifted pauses shown under the active ones, newest first


def active(session: Session) -> list[SmsPause]:
    """Pauses in force, newest first."""
    return list(
        session.scalars(
            select(SmsPause)
            .where(SmsPause.lifted_at.is_(None))
            .order_by(SmsPause.paused_at.desc(), SmsPause.id)
        )
    )


def lifted(session: Session, limit: int = RECENTLY_LIFTED) -> list[SmsPause]:
    """The most recently lifted pauses, with who lifted them."""
    return list(
        session.scalars(
            select(SmsPause)
            .where(SmsPause.lifted_at.is_not(None))
            .order_by(SmsPause.lifted_at.desc(), SmsPause.id)
            .limit(limit)
        )
    )


def lift(session: Session, pause_id: int, actor: audit.Actor, now: dt.datetime) -> SmsPause | None:
    """Lift the pause (not committed); returns it, or None when it is gone or already lifted."""
    pause = session.get(SmsPause, pause_id)
    if pause is None or pause.lifted_at is not None:
        return None
    pumping.lift(session, pause.scope, pause.value, actor.email or "unknown", now)
    audit.record(
        session,
        actor,
        "sms.pause_lifted",
        detail={"pause_id": pause.id, "scope": pause.scope, "value": pause.value},
        at=now,
    )
    return pause
