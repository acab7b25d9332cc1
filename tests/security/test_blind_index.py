"""The blind index: phones and emails looked up by keyed hash, written with every lead,
backfilled by the migration, and never comparable without the key."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask

from intake_service.db import Database, make_engine, utcnow
from intake_service.domain.compliance import opt_outs
from intake_service.domain.intake import contact_limit, duplicates
from intake_service.migrate import alembic_config
from intake_service.models import Lead, leads_with_email, leads_with_phone
from intake_service.security.blind_index import (
    BlindIndex,
    bind_blind_index,
    derive_key,
    email_index,
)
from tests.support import factories

KEY = b"k" * 32


@contextmanager
def parameters_sent(engine: sa.Engine) -> Iterator[list[object]]:
    """The parameters of every statement `engine` sends inside the block."""
    sent: list[object] = []

    def record(_conn: object, _cursor: object, _sql: str, params: object, *_: object) -> None:
        sent.append(params)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_hashes_are_keyed_separated_by_kind_and_normalised() -> None:
    index = BlindIndex(KEY)
    other = BlindIndex(b"o" * 32)

    assert index.phone("+13105550123") == index.phone(" +13105550123 ")
    assert index.email("Jane@Example.com") == index.email("jane@example.com")
    assert index.phone("+13105550123") != other.phone("+13105550123")
    assert index.phone("x@y.z") != index.email("x@y.z")
    # Not a plain hash: a dictionary of all numbers' SHA-256 finds nothing.
    assert index.phone("+13105550123") != hashlib.sha256(b"+13105550123").hexdigest()
    with pytest.raises(ValueError):
        BlindIndex(b"short")


def test_key_comes_from_blind_index_key_or_is_derived_from_secret_key(
    make_settings: Callable[..., object],
) -> None:
    derived = BlindIndex.from_settings(make_settings())  # type: ignore[arg-type]
    assert derived.phone("+1") == BlindIndex(derive_key("test-secret-key-0123456789")).phone("+1")
    configured = BlindIndex.from_settings(make_settings(BLIND_INDEX_KEY="b" * 40))  # type: ignore[arg-type]
    assert configured.phone("+1") == BlindIndex(b"b" * 40).phone("+1")


def test_leads_are_indexed_when_written_and_when_their_contact_changes(db: Database) -> None:
    with db.transaction() as session:
        lead = factories.lead(session, phone="+13105550123", email="Pat@Patients.example")
        lead_id = lead.id
    with db.transaction() as session:
        found = session.scalars(leads_with_phone("+13105550123")).all()
        assert [row.id for row in found] == [lead_id]
        assert session.scalars(leads_with_email("pat@patients.example")).one().id == lead_id
        session.get(Lead, lead_id).phone = "+13105550999"  # type: ignore[union-attr]
    with db.session() as session:
        assert session.scalars(leads_with_phone("+13105550123")).all() == []
        assert session.scalars(leads_with_phone("+13105550999")).one().id == lead_id


def test_the_database_holds_hashes_and_is_asked_for_hashes(db: Database) -> None:
    with db.transaction() as session:
        factories.lead(session, phone="+13105550123", email="pat@patients.example")
    with parameters_sent(db.engine) as sent, db.session() as session:
        assert len(session.scalars(leads_with_phone("+13105550123")).all()) == 1
    with db.engine.connect() as connection:
        hashes = connection.execute(sa.text("SELECT phone_hash, email_hash FROM leads")).one()
    assert all(len(value) == 64 and "3105550123" not in value for value in hashes)
    assert "3105550123" not in repr(sent), "the number went to the database in the clear"
    assert hashes[0] in repr(sent)


def test_two_apps_with_different_keys_each_find_their_own(
    make_app: Callable[..., Flask], tmp_path: object
) -> None:
    first = make_app(BLIND_INDEX_KEY="a" * 40)
    db: Database = first.extensions["intake.db"]
    with db.transaction() as session:
        factories.lead(session, phone="+13105550123")
    second = Database(db.url)
    bind_blind_index(second.engine, BlindIndex(b"z" * 40))
    try:
        with second.session() as session:
            assert session.scalars(leads_with_phone("+13105550123")).all() == []
        with db.session() as session:
            assert len(session.scalars(leads_with_phone("+13105550123")).all()) == 1
    finally:
        second.dispose()


def test_an_engine_without_a_key_refuses_to_look_up(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/bare.sqlite")  # type: ignore[str-bytes-safe]
    try:
        refused = pytest.raises((RuntimeError, sa.exc.StatementError), match="blind-index")
        with engine.connect() as connection, refused:
            connection.execute(sa.select(sa.literal(1)).where(email_index("a@b.c") == "x"))
    finally:
        engine.dispose()


def test_migration_backfills_existing_leads(backend_url: str) -> None:
    config = alembic_config(backend_url)
    command.upgrade(config, "d4a8e2c6f0b3")
    command.downgrade(config, "d4a8e2c6f0b3")  # a PostgreSQL test database starts at head
    engine = make_engine(backend_url)
    lead_ids = [uuid.uuid4() for _ in range(3)]
    leads = sa.table(
        "leads",
        sa.column("id", sa.Uuid()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("first_name", sa.String()),
        sa.column("last_name", sa.String()),
        sa.column("phone", sa.String()),
        sa.column("email", sa.String()),
        sa.column("callback_window", sa.String()),
        sa.column("treatment_interest", sa.String()),
        sa.column("status", sa.String()),
        sa.column("urgent", sa.Boolean()),
        sa.column("source", sa.JSON()),
    )
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        for n, lead_id in enumerate(lead_ids):
            connection.execute(
                leads.insert().values(
                    id=lead_id,
                    created_at=now,
                    updated_at=now,
                    first_name=f"P{n}",
                    last_name="",
                    phone=f"+1310555012{n}" if n != 2 else None,
                    email=f"p{n}@patients.example",
                    callback_window="any",
                    treatment_interest="tms",
                    status="new",
                    urgent=False,
                    source={},
                )
            )
    config.attributes["blind_index_key"] = KEY
    command.upgrade(config, "head")
    index = BlindIndex(KEY)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT first_name, phone_hash, email_hash FROM leads ORDER BY first_name")
        ).all()
    engine.dispose()
    assert rows[0] == ("P0", index.phone("+13105550120"), index.email("p0@patients.example"))
    assert rows[1][1] == index.phone("+13105550121")
    assert rows[2][1] is None and rows[2][2] == index.email("p2@patients.example")


def test_the_service_s_own_phone_lookups_ask_for_the_hash(db: Database) -> None:
    """A STOP reply's leads, the returning-lead check and the per-contact cap find a number
    through its hash: the number itself never goes to the database as a search term."""
    with db.transaction() as session:
        lead_id = factories.lead(session, phone="+13105550123").id
        factories.submission(session, lead_id)
    with parameters_sent(db.engine) as sent, db.session() as session:
        now = utcnow()
        found = opt_outs.leads_with_phone(session, "+13105550123")
        assert [lead.id for lead in found] == [lead_id]
        returning = duplicates.find_returning(session, "+13105550123", None, now, 30)
        assert returning is not None and returning.id == lead_id
        contact_limit.check(session, "+13105550123", None, now, 5)
    assert len(sent) == 4  # the returning lead is found, then locked by its id
    assert "3105550123" not in repr(sent), "a number went to the database in the clear"
