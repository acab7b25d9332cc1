"""Migration b7c4e2a9d6f1: consent events keep their lead's address and survive its deletion.

Run on SQLite (batch mode rebuilds the table) and on PostgreSQL (ALTER in place), from the
revision before it, with rows written the way that schema held them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from intake_service.db import make_engine
from intake_service.migrate import alembic_config, upgrade

BEFORE = "b7c2d4e6f8a1"
THIS = "b7c4e2a9d6f1"
PHONE = "+12133734253"
EMAIL = "jane.doe@patients.example"


LEADS = sa.table(
    "leads",
    sa.column("id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("first_name"),
    sa.column("last_name"),
    sa.column("email"),
    sa.column("phone"),
    sa.column("callback_window"),
    sa.column("treatment_interest"),
    sa.column("status"),
    sa.column("urgent", sa.Boolean()),
    sa.column("source", sa.JSON()),
)
CONSENT = sa.table(
    "consent_events",
    sa.column("lead_id", sa.Uuid()),
    sa.column("channel"),
    sa.column("action"),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("wording_version"),
    sa.column("wording"),
    sa.column("source"),
    sa.column("ip"),
)


def run(url: str, statement: sa.Executable) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(statement)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def add_lead_with_consent(url: str) -> uuid.UUID:
    """A lead and its two opt-ins, as the schema before this revision stored them."""
    lead_id = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    run(
        url,
        LEADS.insert().values(
            id=lead_id,
            created_at=now,
            updated_at=now,
            first_name="Jane",
            last_name="Doe",
            email=EMAIL,
            phone=PHONE,
            callback_window="any",
            treatment_interest="tms",
            status="new",
            urgent=False,
            source={},
        ),
    )
    for channel in ("sms", "email"):
        run(
            url,
            CONSENT.insert().values(
                lead_id=lead_id,
                channel=channel,
                action="opt_in",
                occurred_at=now,
                wording_version=f"{channel}-2026-11",
                wording="The words shown.",
                source="web_form",
                ip="203.0.113.7",
            ),
        )
    return lead_id


def delete_lead(url: str, lead_id: uuid.UUID) -> None:
    run(url, LEADS.delete().where(LEADS.c.id == lead_id))


def count(url: str, where: str = "1 = 1") -> object:
    return run(url, sa.text(f"SELECT count(*) FROM consent_events WHERE {where}"))[0][0]


def ledger(url: str) -> list[tuple[object, ...]]:
    return run(url, sa.text("SELECT channel, contact_point FROM consent_events ORDER BY id"))


def consent_columns(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        return {c["name"]: c for c in sa.inspect(engine).get_columns("consent_events")}
    finally:
        engine.dispose()


def test_upgrade_names_each_events_address_and_keeps_events_of_deleted_leads(
    empty_url: str,
) -> None:
    upgrade(empty_url, BEFORE)
    lead_id = add_lead_with_consent(empty_url)

    upgrade(empty_url, THIS)

    assert ledger(empty_url) == [("sms", PHONE), ("email", EMAIL)]
    assert consent_columns(empty_url)["lead_id"]["nullable"] is True
    delete_lead(empty_url, lead_id)
    assert ledger(empty_url) == [("sms", PHONE), ("email", EMAIL)]
    assert count(empty_url, "lead_id IS NULL") == 2


def test_downgrade_restores_the_old_schema_when_no_event_lost_its_lead(empty_url: str) -> None:
    upgrade(empty_url, BEFORE)
    lead_id = add_lead_with_consent(empty_url)
    upgrade(empty_url, THIS)

    command.downgrade(alembic_config(empty_url), BEFORE)

    columns = consent_columns(empty_url)
    assert "contact_point" not in columns
    assert columns["lead_id"]["nullable"] is False
    # The old behaviour is back: events go with their lead.
    delete_lead(empty_url, lead_id)
    assert count(empty_url) == 0


def test_downgrade_refuses_to_destroy_the_proof_of_deleted_leads(empty_url: str) -> None:
    upgrade(empty_url, BEFORE)
    lead_id = add_lead_with_consent(empty_url)
    upgrade(empty_url, THIS)
    delete_lead(empty_url, lead_id)

    with pytest.raises(RuntimeError, match="2 consent events belong to deleted leads"):
        command.downgrade(alembic_config(empty_url), BEFORE)

    assert ledger(empty_url) == [("sms", PHONE), ("email", EMAIL)]
