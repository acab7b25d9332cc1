"""The consent ledger as proof: each event names the address it was about and outlives its lead."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database, utcnow
from intake_service.domain import intake
from intake_service.domain.compliance.consent import has_consent, record_opt_out
from intake_service.models import ConsentEvent, Lead
from tests.domain.builders import PATIENT_EMAIL, PATIENT_PHONE, database, submit


def events(db: Database) -> list[ConsentEvent]:
    with db.session() as session:
        return list(session.scalars(sa.select(ConsentEvent).order_by(ConsentEvent.id)))


def test_every_consent_event_names_the_address_it_was_about(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    db = database(app)
    lead_id = submit(app)
    with db.transaction() as session:
        record_opt_out(session, lead_id, "sms", "provider", utcnow())

    recorded = [(e.channel, e.action, e.contact_point) for e in events(db)]

    assert recorded == [
        ("sms", "opt_in", PATIENT_PHONE),
        ("email", "opt_in", PATIENT_EMAIL),
        ("sms", "opt_out", PATIENT_PHONE),
    ]


def delete_lead(db: Database, lead_id: uuid.UUID) -> None:
    """Delete a lead as a patient's erasure request would: its rows go, the ledger stays."""
    with db.transaction() as session:
        session.execute(sa.delete(Lead).where(Lead.id == lead_id))


def test_consent_proof_outlives_the_deleted_lead_on_both_databases(
    make_app: Callable[..., Flask], backend_url: str
) -> None:
    # The law asks for the proof of consent (wording, time, IP, user agent) to be kept; it was
    # deleted with the lead (ON DELETE CASCADE).
    app = make_app(DATABASE_URL=backend_url)
    db = database(app)
    lead_id = submit(app)
    # Another person (the same one again would join the first lead as a returning lead).
    kept = submit(
        app,
        contact=intake.Contact(
            first_name="Ana", email="ana@patients.example", phone="+14155552671"
        ),
    )
    before = {e.id: e for e in events(db)}

    delete_lead(db, lead_id)

    after = {e.id: e for e in events(db)}
    assert sorted(after) == sorted(before)
    with db.session() as session:
        assert session.get(Lead, lead_id) is None
        assert has_consent(session, kept, "sms")  # other leads' ledger is untouched
    orphans = [e for e in after.values() if e.lead_id is None]
    assert [(e.channel, e.contact_point) for e in orphans] == [
        ("sms", PATIENT_PHONE),
        ("email", PATIENT_EMAIL),
    ]
    for event in orphans:
        proof = before[event.id]
        assert (event.wording_version, event.wording, event.occurred_at) == (
            proof.wording_version,
            proof.wording,
            proof.occurred_at,
        )
        assert (event.ip, event.user_agent) == ("203.0.113.7", "Mozilla/5.0 (test)")
