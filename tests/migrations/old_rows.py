"""Rows written as an older schema had them, before the migration under test runs."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

# The columns a lead has had since the first revision (the later ones have defaults).
LEADS = sa.table(
    "leads",
    *(sa.column(n) for n in ("first_name", "last_name", "callback_window")),
    *(sa.column(n) for n in ("treatment_interest", "status")),
    sa.column("id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("urgent", sa.Boolean()),
    sa.column("source", sa.JSON()),
)


def a_lead(lead_id: uuid.UUID, now: dt.datetime, *, urgent: bool = False) -> sa.Insert:
    """Jane Doe's lead, as any revision stores it."""
    return sa.insert(LEADS).values(
        id=lead_id, created_at=now, updated_at=now, first_name="Jane", last_name="Doe",
        callback_window="any", treatment_interest="tms", status="new", urgent=urgent, source={},
    )  # fmt: skip
