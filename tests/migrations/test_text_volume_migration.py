"""Migration a4c8e2f6b9d1: the hourly text counts start from the last eight days of texts.

A surge or a daily cap in progress when the service is upgraded is not forgotten: the upgrade
counts the patients' texts already planned and taken. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import command

from intake_service.db import make_engine
from intake_service.migrate import alembic_config, upgrade
from tests.migrations.old_rows import a_lead

BEFORE = "d7e1a9c3f5b2"
NOW = dt.datetime.now(dt.UTC)
HOUR = NOW.replace(minute=0, second=0, microsecond=0)

MESSAGE_COLUMNS = ("plan_key", "audience", "channel", "template_key", "recipient", "status")
MESSAGES = sa.table(
    "messages",
    *(sa.column(n) for n in MESSAGE_COLUMNS),
    sa.column("lead_id", sa.Uuid()),
    sa.column("attempts", sa.Integer()),
    sa.column("due_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("sent_at", sa.DateTime(timezone=True)),
)


def text(
    key: str, lead_id: uuid.UUID, status: str, created: dt.datetime, **more: object
) -> dict[str, object]:
    values = dict(zip(MESSAGE_COLUMNS, (key, "patient", "sms", "t", "+12135550150", status),
                      strict=True))  # fmt: skip
    return {**values, "lead_id": lead_id, "attempts": 1, "due_at": created, "created_at": created,
            "updated_at": created, "sent_at": None, **more}  # fmt: skip


def test_up_counts_the_last_eight_days_of_patients_texts_and_down_drops_the_counts(
    empty_url: str,
) -> None:
    upgrade(empty_url, BEFORE)
    engine = make_engine(empty_url)
    lead_id = uuid.uuid4()
    an_hour_ago = HOUR - dt.timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(a_lead(lead_id, NOW))
        conn.execute(
            sa.insert(MESSAGES),
            [
                text("first", lead_id, "sent", an_hour_ago, sent_at=HOUR),
                text("day1", lead_id, "planned", an_hour_ago),
                text("day3", lead_id, "cancelled", an_hour_ago),
                text("old", lead_id, "delivered", NOW - dt.timedelta(days=10)),
                {**text("team", lead_id, "sent", NOW), "audience": "team"},  # a page: ours
                {**text("mail", lead_id, "sent", NOW), "channel": "email",
                 "recipient": "jane@example.com"},
            ],
        )  # fmt: skip

    upgrade(empty_url)

    with engine.begin() as conn:
        rows = conn.execute(
            sa.text("SELECT scope, value, hour, planned, at_provider FROM text_volume")
        ).all()
        counts = {(scope, value, _utc(hour)): (p, t) for scope, value, hour, p, t in rows}
        assert counts == {
            ("prefix", "+1213", an_hour_ago): (3, 0),
            ("country", "+1", an_hour_ago): (3, 0),
            ("prefix", "+1213", HOUR): (0, 1),  # taken when it was sent; the cap is per prefix
        }
        index = sa.inspect(conn).get_indexes("messages")
        assert "ix_messages_recipient_created_at" in {i["name"] for i in index}

    command.downgrade(alembic_config(empty_url), BEFORE)
    with engine.begin() as conn:
        assert "text_volume" not in sa.inspect(conn).get_table_names()
    upgrade(empty_url)  # and up again
    engine.dispose()


def _utc(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):  # SQLite, read through a plain text query
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
