"""Migration c6a4e8f2b1d9: messages and urgent pages may be about an inbound text, not a lead.

Up keeps every lead's messages and pages; down removes only what was about a text (the older
schema has nowhere to hold it) and restores lead_id NOT NULL. On SQLite (batch rebuilds) and
PostgreSQL (ALTER in place).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from intake_service.db import make_engine
from intake_service.migrate import alembic_config, upgrade
from tests.migrations.old_rows import a_lead

BEFORE = "b8e2c4d6f1a3"
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)

MESSAGE_COLUMNS = ("plan_key", "audience", "channel", "template_key", "recipient", "status")
MESSAGES = sa.table(
    "messages",
    *(sa.column(n) for n in MESSAGE_COLUMNS),
    sa.column("id", sa.Integer()),
    sa.column("lead_id", sa.Uuid()),
    sa.column("inbound_message_id", sa.Integer()),
    sa.column("attempts", sa.Integer()),
    sa.column("due_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
ATTEMPTS = sa.table(
    "delivery_attempts",
    sa.column("message_id", sa.Integer()),
    sa.column("number", sa.Integer()),
    sa.column("started_at", sa.DateTime(timezone=True)),
)
PAGES = sa.table(
    "urgent_pages",
    sa.column("lead_id", sa.Uuid()),
    sa.column("inbound_message_id", sa.Integer()),
    sa.column("round", sa.Integer()),
    sa.column("due_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
INBOUND = sa.table(
    "inbound_messages",
    *(sa.column(n) for n in ("provider_id", "from_number", "to_number", "body", "kind")),
    sa.column("id", sa.Integer()),
    sa.column("received_at", sa.DateTime(timezone=True)),
)


def message(key: str, **about: object) -> dict[str, object]:
    values = dict(
        zip(MESSAGE_COLUMNS, (key, "team", "email", "t", "a@x.example", "sent"), strict=True)
    )
    return {**values, "attempts": 1, "due_at": NOW, "created_at": NOW, "updated_at": NOW, **about}


def test_up_keeps_lead_rows_and_down_drops_only_rows_about_a_text(empty_url: str) -> None:
    upgrade(empty_url, BEFORE)
    engine = make_engine(empty_url)
    lead_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(a_lead(lead_id, NOW, urgent=True))
        conn.execute(sa.insert(MESSAGES).values(id=1, **message("page1", lead_id=lead_id)))
        conn.execute(sa.insert(ATTEMPTS).values(message_id=1, number=1, started_at=NOW))
        conn.execute(sa.insert(PAGES).values(lead_id=lead_id, round=2, due_at=NOW, created_at=NOW))

    upgrade(empty_url)

    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM messages")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM urgent_pages")).scalar() == 1
        conn.execute(
            sa.insert(INBOUND).values(
                id=7, provider_id="SM1", from_number="+14155550123", to_number="+13105550100",
                body="x", kind="crisis", received_at=NOW,
            )
        )  # fmt: skip
        conn.execute(sa.insert(MESSAGES).values(id=2, **message("page1", inbound_message_id=7)))
        conn.execute(sa.insert(ATTEMPTS).values(message_id=2, number=1, started_at=NOW))
        conn.execute(
            sa.insert(PAGES).values(inbound_message_id=7, round=2, due_at=NOW, created_at=NOW)
        )
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(sa.insert(MESSAGES).values(id=3, **message("about-nobody")))

    command.downgrade(alembic_config(empty_url), BEFORE)

    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT id FROM messages")).scalars().all() == [1]
        assert conn.execute(
            sa.text("SELECT message_id FROM delivery_attempts")
        ).scalars().all() == [1]
        assert conn.execute(sa.text("SELECT count(*) FROM urgent_pages")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM inbound_messages")).scalar() == 1
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(
            sa.text("INSERT INTO urgent_pages (round, due_at, created_at) VALUES (3, :t, :t)"),
            {"t": NOW},
        )
    upgrade(empty_url)  # and up again
    engine.dispose()
