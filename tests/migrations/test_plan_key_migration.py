"""Migration 6ac99b4d2925: a plan key has room for the longest address a lead may give.

On SQLite the table is rebuilt (batch mode): its rows, indexes and constraints must come
through. On PostgreSQL the column widens in place. Both take a 300-character key after it.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import command

from intake_service.db import make_engine
from intake_service.migrate import alembic_config, upgrade
from tests.migrations.test_text_volume_migration import LEADS, MESSAGES, NOW, empty_url, text

__all__ = ["empty_url"]  # the fixture, once on SQLite and once on PostgreSQL

BEFORE = "a4c8e2f6b9d1"
LONG_KEY = "first:patient:email:" + "a" * 280


def _shape(conn: sa.Connection) -> dict[str, object]:
    found = sa.inspect(conn)
    return {
        "indexes": sorted(i["name"] or "" for i in found.get_indexes("messages")),
        "unique": sorted(u["name"] or "" for u in found.get_unique_constraints("messages")),
        "checks": sorted(c["name"] or "" for c in found.get_check_constraints("messages")),
        "foreign": sorted(f["name"] or "" for f in found.get_foreign_keys("messages")),
    }


def test_up_widens_the_plan_key_keeping_rows_and_constraints_and_down_narrows_it(
    empty_url: str,
) -> None:
    upgrade(empty_url, BEFORE)
    engine = make_engine(empty_url)
    lead_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(LEADS).values(
                id=lead_id, created_at=NOW, updated_at=NOW, first_name="Jane", last_name="Doe",
                callback_window="any", treatment_interest="tms", status="new", urgent=False,
                source={},
            )
        )  # fmt: skip
        conn.execute(sa.insert(MESSAGES), [text("first", lead_id, "sent", NOW, sent_at=NOW)])
        before = _shape(conn)

    upgrade(empty_url)

    with engine.begin() as conn:
        assert _shape(conn) == before
        assert conn.execute(sa.text("SELECT plan_key FROM messages")).scalars().all() == ["first"]
        conn.execute(sa.insert(MESSAGES), [text(LONG_KEY, lead_id, "planned", NOW)])
        (column,) = [c for c in sa.inspect(conn).get_columns("messages") if c["name"] == "plan_key"]
        assert column["type"].length == 500
        conn.execute(sa.text("DELETE FROM messages WHERE plan_key <> 'first'"))

    command.downgrade(alembic_config(empty_url), BEFORE)
    with engine.begin() as conn:
        (column,) = [c for c in sa.inspect(conn).get_columns("messages") if c["name"] == "plan_key"]
        assert column["type"].length == 200
        assert _shape(conn) == before
    upgrade(empty_url)  # and up again
    engine.dispose()
