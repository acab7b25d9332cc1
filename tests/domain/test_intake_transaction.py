"""Accepting a submission: lead, submission, consent and outbox event in one transaction.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy.exc import IntegrityError

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.compliance import consent
from intake_service.domain.events import outbox
from intake_service.migrate import alembic_config, upgrade
from intake_service.models import ConsentEvent, Lead, OutboxEvent, Submission
from tests.domain.builders import PATIENT_EMAIL, PATIENT_PHONE, count, database, submission
from tests.support.services import PostgresServer, unique_name

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

    again = intake.submit(
        db, submission(idempotency_key="k", ip="198.51.100.2", user_agent="Other/2.0")
    )

    assert again.lead_id == first.lead_id


def test_a_fingerprint_is_what_it_was_when_earlier_submissions_stored_theirs() -> None:
    """Stored fingerprints must keep matching: a key replayed after an upgrade is a replay."""
    contact = intake.Contact("Ana", "Ruiz", "ana@example.com", "+13105550100", "evening")
    data = intake.SubmissionInput(
        form="phq9", contact=contact, message="hola", answers={"items": [1, 2, 3, 0, 1] + [2] * 4},
        sms_consent=True, source={"utm_source": "tv"}, idempotency_key="k", ip="192.0.2.4",
        locale="es", bot_signals=("fast",),
    )  # fmt: skip

    # sha256 of the canonical JSON as dataclasses.asdict() gave it, transport details left out
    assert data.fingerprint() == "d607d3b203b0f0cc1f5338465ff979baa376fed7246c1bdd25a4d891658b2043"


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


def test_the_same_key_through_each_door_is_two_submissions(db: Database) -> None:
    # Each door has its own key space: an API client cannot claim (or replay) a form's token.
    api = intake.submit(db, submission(idempotency_key="web-form:T1", via="api"))
    web = intake.submit(
        db, submission(idempotency_key="web-form:T1", treatment_interest="ketamine")
    )

    assert api.submission_id != web.submission_id
    assert not web.replayed
    with db.session() as session:
        keys = set(session.scalars(sa.select(Submission.idempotency_key)))
    assert keys == {
        intake.stored_key("api", "web-form:T1"),
        intake.stored_key("web", "web-form:T1"),
    }
    assert all(len(key) <= 200 for key in keys)


def test_the_longest_api_key_fits_its_key_space(db: Database) -> None:
    key = "k" * 200

    first = intake.submit(db, submission(idempotency_key=key, via="api"))
    again = intake.submit(db, submission(idempotency_key=key, via="api"))

    assert (again.submission_id, again.replayed) == (first.submission_id, True)


def test_an_address_that_is_not_one_is_not_stored_and_the_lead_is_kept(db: Database) -> None:
    # A forged X-Forwarded-For once overflowed the column on PostgreSQL: a 500, the lead lost.
    accepted = intake.submit(db, submission(ip="x" * 80, user_agent="U" * 2000))

    with db.session() as session:
        stored = session.get_one(Submission, accepted.submission_id)
        assert stored.ip is None
        assert stored.user_agent == "U" * 500
        evidence = session.scalars(sa.select(ConsentEvent)).all()
        assert {event.ip for event in evidence} == {None}


def test_addresses_are_stored_normalised(db: Database) -> None:
    accepted = intake.submit(db, submission(ip="::ffff:203.0.113.9"))

    with db.session() as session:
        assert session.get_one(Submission, accepted.submission_id).ip == "203.0.113.9"


def test_an_unknown_wording_version_is_refused_without_echoing_it(db: Database) -> None:
    with pytest.raises(intake.InvalidSubmission) as caught:
        intake.submit(db, submission(sms_wording_version=MARKER))

    sentence = caught.value.errors["consent.wording_version"]
    assert MARKER not in sentence
    assert consent.CURRENT_SMS_WORDING in sentence
    assert count(db, "leads") == 0


@pytest.mark.parametrize(
    "source",
    [{f"utm_{i}": "x" for i in range(21)}, {"page": "p" * 2000, "utm_source": "q" * 100}],
    ids=["21-keys", "over-2-KiB"],
)
def test_an_oversized_source_is_refused(db: Database, source: dict[str, str]) -> None:
    with pytest.raises(intake.InvalidSubmission) as caught:
        intake.submit(db, submission(source=source))

    assert "source" in caught.value.errors
    assert count(db, "leads") == 0


@pytest.mark.parametrize("name", ["clinic.example", "Jane\u202e", "Ja\tne", "Jane \U0001f33b"])
def test_names_that_are_not_names_are_refused_whichever_door(db: Database, name: str) -> None:
    for via in ("web", "api"):
        contact = intake.Contact(first_name="Jane", last_name=name, email=PATIENT_EMAIL)
        with pytest.raises(intake.InvalidSubmission) as caught:
            intake.submit(db, submission(contact=contact, sms_consent=False, via=via))
        assert set(caught.value.errors) == {"contact.last_name"}
    assert count(db, "leads") == 0


def refuse_submission_inserts(db: Database) -> None:
    """Make the database refuse submission rows, as a violated constraint would."""
    with db.transaction() as session:
        if db.engine.dialect.name == "sqlite":
            session.execute(
                sa.text(
                    "CREATE TRIGGER refuse_submission BEFORE INSERT ON submissions "
                    "BEGIN SELECT RAISE(ABORT, 'submission refused'); END"
                )
            )
        else:
            session.execute(
                sa.text(
                    "CREATE FUNCTION refuse_submission() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN RAISE EXCEPTION 'submission refused' USING ERRCODE = 'check_violation'; "
                    "END $$"
                )
            )
            session.execute(
                sa.text(
                    "CREATE TRIGGER refuse_submission BEFORE INSERT ON submissions "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_submission()"
                )
            )


def test_a_database_error_never_carries_the_statements_parameters(db: Database) -> None:
    refuse_submission_inserts(db)

    with pytest.raises(IntegrityError) as caught:
        intake.submit(db, submission(ip="198.51.100.77", user_agent=MARKER))

    text = str(caught.value)
    assert "submission refused" in text  # the error itself is still told
    assert MARKER not in text and "198.51.100.77" not in text
    assert {table: count(db, table) for table in TABLES} == dict.fromkeys(TABLES, 0)


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet, on SQLite and then on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = unique_name("intake_empty")
    yield server.create_database(name)
    server.drop_database(name)


@pytest.mark.parametrize("empty_url", ["sqlite", "postgresql"], indirect=True)
def test_an_api_key_stored_before_the_key_spaces_still_replays(
    empty_url: str, make_app: Callable[..., Flask]
) -> None:
    # A client's retry that straddles the deploy must still be answered as a replay.
    backend_url = empty_url
    upgrade(backend_url, BEFORE_KEY_SPACES)
    data = submission(idempotency_key="order-77", via="api", answers=None, form="contact")
    lead_id, submission_id = uuid.uuid4(), uuid.uuid4()
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    engine = sa.create_engine(backend_url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(OLD_LEADS).values(
                id=lead_id, created_at=now, updated_at=now, first_name="Jane", last_name="Doe",
                callback_window="evening", treatment_interest="tms", status="new",
                urgent=False, source={},
            )
        )  # fmt: skip
        conn.execute(
            sa.insert(OLD_SUBMISSIONS).values(
                id=submission_id, lead_id=lead_id, created_at=now, form="contact", via="api",
                idempotency_key="order-77", fingerprint=data.fingerprint(),
            )
        )  # fmt: skip
    engine.dispose()

    db = database(make_app(DATABASE_URL=backend_url))  # migrates to head
    again = intake.submit(db, data)

    assert (again.submission_id, again.replayed) == (submission_id, True)
    assert count(db, "submissions") == 1


KEY_SPACES = "5b7e2c9d4f13"
# The revision just before, wherever the chain puts this one.
BEFORE_KEY_SPACES = str(
    ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(KEY_SPACES).down_revision
)
# The two tables' columns that were required before it: raw rows, whatever the models become.
OLD_LEADS = sa.table(
    "leads",
    *(sa.column(name) for name in ("first_name", "last_name", "callback_window")),
    *(sa.column(name) for name in ("treatment_interest", "status", "urgent")),
    sa.column("id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("source", sa.JSON()),
)
OLD_SUBMISSIONS = sa.table(
    "submissions",
    *(sa.column(name) for name in ("form", "via", "idempotency_key", "fingerprint")),
    sa.column("id", sa.Uuid()),
    sa.column("lead_id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
