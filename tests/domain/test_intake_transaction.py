"""Accepting a submission: lead, submission, consent and outbox event in one transaction.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import IntegrityError

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.compliance import consent
from intake_service.domain.events import outbox
from intake_service.models import ConsentEvent, Lead, OutboxEvent, Submission
from tests.domain.builders import PATIENT_EMAIL, PATIENT_PHONE, count, database, submission

MARKER = "QUOKKA-5521-PRIVATE"
TABLES = ("leads", "submissions", "consent_events", "outbox_events")


@pytest.fixture
def db(make_app: Callable[..., Flask], backend_url: str) -> Database:
    return database(make_app(DATABASE_URL=backend_url))


def refuse_outbox_inserts(db: Database) -> None:
    """Make the database itself refuse outbox rows, as a violated constraint would."""
    with db.transaction() as session:
        if db.engine.dialect.name == "sqlite":
            session.execute(
                sa.text(
                    "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_events "
                    "BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
                )
            )
        else:
            session.execute(
                sa.text(
                    "CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN RAISE EXCEPTION 'outbox refused' USING ERRCODE = 'check_violation'; "
                    "END $$"
                )
            )
            session.execute(
                sa.text(
                    "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_outbox()"
                )
            )


def test_submit_stores_lead_submission_consents_and_outbox_event_together(db: Database) -> None:
    accepted = intake.submit(db, submission(message="Evenings are best."))

    assert accepted.urgent is False
    assert accepted.message == intake.THANK_YOU
    with db.session() as session:
        lead = session.get_one(Lead, accepted.lead_id)
        assert (lead.first_name, lead.last_name) == ("Jane", "Doe")
        assert (lead.email, lead.phone) == (PATIENT_EMAIL, PATIENT_PHONE)
        assert (lead.callback_window, lead.treatment_interest) == ("evening", "tms")
        (stored,) = session.scalars(sa.select(Submission)).all()
        assert stored.id == accepted.submission_id
        assert stored.lead_id == lead.id
        assert stored.form == "tms_screen"
        assert stored.message == "Evenings are best."
        events = session.scalars(sa.select(ConsentEvent).order_by(ConsentEvent.channel)).all()
        assert [(e.channel, e.action, e.lead_id) for e in events] == [
            ("email", "opt_in", lead.id),
            ("sms", "opt_in", lead.id),
        ]
        sms = events[1]
        assert sms.wording_version == consent.CURRENT_SMS_WORDING
        assert sms.wording == consent.SMS_WORDINGS[consent.CURRENT_SMS_WORDING]
        assert (sms.ip, sms.user_agent, sms.source) == (
            "203.0.113.7",
            "Mozilla/5.0 (test)",
            "web_form",
        )
        assert sms.occurred_at == stored.created_at
        (event,) = session.scalars(sa.select(OutboxEvent)).all()
        assert (event.kind, event.lead_id) == (outbox.LEAD_SUBMITTED, lead.id)
        assert event.processed_at is None


def test_unticked_sms_box_records_no_sms_consent(db: Database) -> None:
    intake.submit(db, submission(sms_consent=False))

    with db.session() as session:
        channels = session.scalars(sa.select(ConsentEvent.channel)).all()
    assert channels == ["email"]


def test_answers_and_message_are_encrypted_at_rest(db: Database) -> None:
    accepted = intake.submit(
        db, submission(message=f"Please call me. {MARKER}", answers=None, form="contact")
    )
    intake.submit(db, submission(form="phq9", answers={"items": [3, 2, 1, 0, 3, 2, 1, 0, 0]}))

    with db.session() as session:
        raw = session.execute(sa.text("SELECT answers, message FROM submissions")).all()
        readable = session.get_one(Submission, accepted.submission_id)
        assert readable.message == f"Please call me. {MARKER}"
    dump = repr(raw)
    assert MARKER not in dump
    assert "items" not in dump
    assert "[3, 2, 1" not in dump
    assert all(answers is None or answers.startswith("gAAAA") for answers, _ in raw)


def test_outbox_insert_failing_stores_nothing_at_all(db: Database) -> None:
    refuse_outbox_inserts(db)

    with pytest.raises(IntegrityError):
        intake.submit(db, submission(message="Evenings are best."))

    assert {table: count(db, table) for table in TABLES} == dict.fromkeys(TABLES, 0)


def test_outbox_failure_with_an_idempotency_key_still_stores_nothing(db: Database) -> None:
    refuse_outbox_inserts(db)

    with pytest.raises(IntegrityError):
        intake.submit(db, submission(idempotency_key="form-token-1"))

    assert {table: count(db, table) for table in TABLES} == dict.fromkeys(TABLES, 0)


def test_phq9_item9_answer_is_urgent_with_the_crisis_message(db: Database) -> None:
    accepted = intake.submit(
        db, submission(form="phq9", answers={"items": [0, 0, 0, 0, 0, 0, 0, 0, 1]})
    )

    assert accepted.urgent is True
    assert accepted.message == intake.CRISIS_MESSAGE
    assert "988" in accepted.message
    assert "call 911 now" in accepted.message
    with db.session() as session:
        assert session.get_one(Lead, accepted.lead_id).urgent is True


def test_replayed_idempotency_key_returns_the_same_ids_and_stores_once(db: Database) -> None:
    first = intake.submit(db, submission(idempotency_key="api-key-123"))
    again = intake.submit(db, submission(idempotency_key="api-key-123"))

    assert (again.lead_id, again.submission_id) == (first.lead_id, first.submission_id)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.message == first.message
    assert {table: count(db, table) for table in TABLES} == {
        "leads": 1,
        "submissions": 1,
        "consent_events": 2,
        "outbox_events": 1,
    }


def test_replay_of_an_urgent_submission_still_answers_with_the_crisis_message(
    db: Database,
) -> None:
    data = submission(form="phq9", answers={"items": [0] * 8 + [2]}, idempotency_key="double-click")
    intake.submit(db, data)

    again = intake.submit(db, data)

    assert again.replayed is True
    assert again.urgent is True
    assert again.message == intake.CRISIS_MESSAGE


def test_idempotency_key_reused_for_other_content_is_a_conflict(db: Database) -> None:
    intake.submit(db, submission(idempotency_key="api-key-123"))

    with pytest.raises(intake.IdempotencyConflict):
        intake.submit(db, submission(idempotency_key="api-key-123", treatment_interest="ketamine"))

    assert count(db, "leads") == 1


def test_transport_details_do_not_make_a_replay_a_conflict(db: Database) -> None:
    first = intake.submit(db, submission(idempotency_key="k", ip="198.51.100.1"))

    again = intake.submit(db, submission(idempotency_key="k", ip="198.51.100.2", via="api"))

    assert again.lead_id == first.lead_id


def test_invalid_submission_stores_nothing_and_names_each_field(db: Database) -> None:
    contact = intake.Contact(first_name=" ", email=None, phone=None, callback_window="noon")

    with pytest.raises(intake.InvalidSubmission) as caught:
        intake.submit(db, submission(contact=contact, answers={"items": [0] * 9}))

    assert set(caught.value.errors) >= {
        "contact.first_name",
        "contact.email",
        "contact.callback_window",
        "contact.phone",  # SMS ticked without a phone
    }
    assert any(path.startswith("answers") for path in caught.value.errors)
    assert count(db, "leads") == 0
