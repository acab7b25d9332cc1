"""Finding the lead of a person's data request, on SQLite and PostgreSQL: the reference is a
range of ids (so each backend's uuid ordering matters), contact points go through the blind
index; deletion needs the reference typed."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from flask import Flask

from intake_service.db import Database
from intake_service.domain.compliance import audit, data_requests
from intake_service.models import Lead
from tests.support import factories

ACTOR = audit.Actor(None, "test")


@pytest.fixture
def db(make_app: Callable[..., Flask], backend_url: str) -> Database:
    database: Database = make_app(DATABASE_URL=backend_url).extensions["intake.db"]
    return database


def test_a_reference_finds_exactly_the_ids_it_starts(db: Database) -> None:
    prefix = "6f1c2a9e"
    ids = {
        "first": uuid.UUID(prefix + "0" * 24),
        "last": uuid.UUID(prefix + "f" * 24),
        "middle": uuid.UUID(prefix + "8badf00d" * 3),
        "before": uuid.UUID("6f1c2a9d" + "f" * 24),
        "after": uuid.UUID("6f1c2a9f" + "0" * 24),
    }
    with db.transaction() as session:
        for name, lead_id in ids.items():
            factories.lead(session, id=lead_id, first_name=name)
    with db.session() as session:
        found = {m.name.split()[0] for m in data_requests.find(session, " 6F1C2A9E ")}
        assert found == {"first", "last", "middle"}
        assert [m.ref for m in data_requests.find(session, str(ids["after"]))] == ["6f1c2a9f"]
        assert data_requests.find(session, "6f1c2a9") == []


def test_contact_points_match_whole_through_the_blind_index(db: Database) -> None:
    with db.transaction() as session:
        lead = factories.lead(session, email="Jo@Patients.example", phone="+13105550188")
    with db.session() as session:
        for query in ("jo@patients.example", "(310) 555-0188", "+1 310 555 0188"):
            assert [m.id for m in data_requests.find(session, query)] == [lead.id], query
        for query in ("", "   ", "0188", "patients.example", "x" * 400, "@"):
            assert data_requests.find(session, query) == [], query


def test_deletion_needs_the_reference_and_checks_it_before_anything(db: Database) -> None:
    with db.transaction() as session:
        lead_id = factories.lead(session).id
    with pytest.raises(data_requests.WrongConfirmation), db.transaction() as session:
        data_requests.delete(session, lead_id, lead_id.hex[:7], ACTOR)
    with db.transaction() as session:
        assert session.get(Lead, lead_id) is not None
        deleted = data_requests.delete(session, lead_id, lead_id.hex[:8].upper(), ACTOR)
    assert deleted["leads"] == 1
    with db.session() as session:
        assert session.get(Lead, lead_id) is None
