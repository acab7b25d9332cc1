"""Migration 6ac99b4d2925: a plan key has room for the longest address a lead may give, and a
provider id for a Message-ID with the longest domain.

On SQLite the tables are rebuilt (batch mode): their rows, indexes and constraints must come
through. On PostgreSQL the columns widen in place.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import command

from intake_service.db import make_engine
from intake_service.migrate import alembic_config, upgrade
from tests.migrations.old_rows import a_lead
from tests.migrations.test_text_volume_migration import MESSAGES, NOW, text

BEFORE = "a4c8e2f6b9d1"
LONG_KEY = "first:patient:email:" + "a" * 280


TABLES = ("messages", "delivery_attempts")


def _shape(conn: sa.Connection) -> dict[str, object]:
    found = sa.inspect(conn)
    return {
        table: {
            "indexes": sorted(i["name"] or "" for i in found.get_indexes(table)),
            "unique": sorted(u["name"] or "" for u in found.get_unique_constraints(table)),
            "checks": sorted(c["name"] or "" for c in found.get_check_constraints(table)),
            "foreign": sorted(f["name"] or "" for f in found.get_foreign_keys(table)),
        }
        for table in TABLES
    }


def _lengths(conn: sa.Connection) -> dict[tuple[str, str], int]:
    found = sa.inspect(conn)
    return {
        (table, column["name"]): column["type"].length
        for table in TABLES
        for column in found.get_columns(table)
        if column["name"] in ("plan_key", "provider_id")
    }


def test_up_widens_the_keys_keeping_rows_and_constraints_and_down_narrows_them(
    empty_url: str,
) -> None:
    upgrade(empty_url, BEFORE)
    engine = make_engine(empty_url)
    lead_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(a_lead(lead_id, NOW))
        conn.execute(sa.insert(MESSAGES), [text("first", lead_id, "sent", NOW, sent_at=NOW)])
        before = _shape(conn)

    upgrade(empty_url)

    with engine.begin() as conn:
        assert _shape(conn) == before
        assert conn.execute(sa.text("SELECT plan_key FROM messages")).scalars().all() == ["first"]
        conn.execute(sa.insert(MESSAGES), [text(LONG_KEY, lead_id, "planned", NOW)])
        assert _lengths(conn) == {
            ("messages", "plan_key"): 500,
            ("messages", "provider_id"): 320,
            ("delivery_attempts", "provider_id"): 320,
        }
        conn.execute(sa.text("DELETE FROM messages WHERE plan_key <> 'first'"))

    command.downgrade(alembic_config(empty_url), BEFORE)
    with engine.begin() as conn:
        assert set(_lengths(conn).values()) == {200, 100}
        assert _lengths(conn)[("messages", "plan_key")] == 200
        assert _shape(conn) == before
    upgrade(empty_url)  # and up again
    engine.dispose()
