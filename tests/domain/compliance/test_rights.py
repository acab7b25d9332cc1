"""A patient's rights: everything held exported; the lead deleted but its consent ledger and
audit trail; from the domain and from `intake-service leads export/delete`."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from intake_service.cli import main
from intake_service.db import Base, Database, utcnow
from intake_service.domain.compliance import audit, rights
from intake_service.models import (
    ArchivedConsent,
    AuditEvent,
    DeliveryAttempt,
    Lead,
    Message,
    OutboxEvent,
    UrgentPage,
)
from tests.conftest import base_env
from tests.support import factories

NAME = "Wilhelmina"
FREE_TEXT = "I have not slept properly in weeks and the pills stopped working"
NOTE = "Spoke with her mother; wants an evening call about ketamine"
PHONE = "+13105550177"
EMAIL = "wilhelmina@patients.example"
ACTOR = audit.Actor(None, "test")


def full_lead(session: Any) -> uuid.UUID:
    """A lead with a row in every table that can hold something about it."""
    staff = factories.user(session, "clinician")
    lead = factories.lead(
        session,
        first_name=NAME,
        phone=PHONE,
        email=EMAIL,
        message=FREE_TEXT,
        answers={"items": [3, 3, 2, 1, 0, 1, 2, 3, 0]},
        triage={"reasons": ["phq9_severe"], "score": 21, "candidacy": "likely"},
        sms_consent=True,
    )
    message = factories.message(session, lead, body_text=f"Hi {NAME}, thanks for contacting us")
    session.add(DeliveryAttempt(message_id=message.id, number=1, outcome="sent", provider_id="SM1"))
    factories.lead_event(session, lead, "note_added", utcnow(), staff, note=NOTE)
    factories.callback(session, lead, utcnow())
    session.add(OutboxEvent(kind="lead.submitted", lead_id=lead.id))
    session.add(UrgentPage(lead_id=lead.id, round=1, due_at=utcnow()))
    audit.record(session, audit.Actor(staff.id, staff.email), "lead.viewed", lead_id=lead.id)
    session.flush()
    return lead.id


def every_text_in_the_database(db: Database) -> str:
    """Every value of every row of every table, decrypted where encrypted, as one string."""
    parts = []
    with db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(sa.select(table)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_export_holds_everything_about_the_lead_decrypted_and_is_audited(db: Database) -> None:
    with db.transaction() as session:
        lead_id = full_lead(session)
        other = factories.lead(session, first_name="Someone", message="not hers").id
    with db.transaction() as session:
        document = rights.export_lead(session, lead_id, ACTOR)

    text = json.dumps(document)  # plain JSON all the way down
    assert document["lead"]["first_name"] == NAME and document["lead"]["phone"] == PHONE
    for expected in (FREE_TEXT, NOTE, "phq9_severe", f"Hi {NAME}", "SM1"):
        assert expected in text, expected
    for table in ("submissions", "triages", "messages", "delivery_attempts", "lead_events",
                  "callback_requests", "consent_events", "outbox_events", "urgent_pages",
                  "audit_events"):  # fmt: skip
        assert document[table], f"export lacks {table}"
    assert len(document["consent_events"]) == 2  # email and sms opt-ins
    assert "not hers" not in text and str(other) not in text
    with db.session() as session:
        kinds = session.scalars(sa.select(AuditEvent.kind).where(AuditEvent.lead_id == lead_id))
        assert "lead.exported" in list(kinds)


def test_delete_leaves_only_the_consent_ledger_and_the_audit_trail(
    backend_url: str, make_app: Callable[..., Flask]
) -> None:
    app = make_app(DATABASE_URL=backend_url)
    db: Database = app.extensions["intake.db"]
    with db.transaction() as session:
        lead_id = full_lead(session)
        other = factories.lead(session, first_name="Keepme", message="stays").id

    with db.session() as session:
        attempts = session.scalar(
            sa.select(sa.func.count(DeliveryAttempt.id))
            .join(Message, Message.id == DeliveryAttempt.message_id)
            .where(Message.lead_id == lead_id)
        )
    with db.transaction() as session:
        deleted = rights.delete_lead(session, lead_id, ACTOR)

    assert deleted["leads"] == 1 and deleted["delivery_attempts"] == attempts >= 1
    everything = every_text_in_the_database(db)
    for gone in (NAME, FREE_TEXT, NOTE, "phq9_severe"):
        assert gone not in everything, gone
    with db.session() as session:
        assert session.get(Lead, lead_id) is None
        assert session.get(Lead, other) is not None
        for link in rights.linked_tables():
            if link.table.name in rights.KEPT_TABLES:
                continue
            rows = session.execute(rights.rows_about(link, lead_id)).all()
            assert rows == [], f"{link.table.name} still holds rows of the deleted lead"
        ledger = session.scalars(
            sa.select(ArchivedConsent).where(ArchivedConsent.lead_id == lead_id)
        ).all()
        assert {(line.channel, line.contact) for line in ledger} == {
            ("email", EMAIL),
            ("sms", PHONE),
        }
        assert all(line.wording and line.contact_hash for line in ledger)
        trail = session.scalars(
            sa.select(AuditEvent.kind).where(AuditEvent.lead_id == lead_id)
        ).all()
        assert "lead.viewed" in trail and "lead.deleted" in trail


def test_unknown_lead_is_refused(db: Database) -> None:
    with db.transaction() as session, pytest.raises(rights.UnknownLead):
        rights.export_lead(session, uuid.uuid4(), ACTOR)
    with db.transaction() as session, pytest.raises(rights.UnknownLead):
        rights.delete_lead(session, uuid.uuid4(), ACTOR)


@pytest.fixture
def cli_env(tmp_path: Path, make_app: Callable[..., Flask]) -> tuple[dict[str, str], uuid.UUID]:
    env = base_env(tmp_path / "instance")
    app = make_app()
    with app.extensions["intake.db"].transaction() as session:
        lead_id = full_lead(session)
    return env, lead_id


def test_cli_exports_to_stdout_and_to_a_private_file(
    cli_env: tuple[dict[str, str], uuid.UUID], tmp_path: Path
) -> None:
    env, lead_id = cli_env
    runner = CliRunner()

    shown = runner.invoke(main, ["leads", "export", str(lead_id)], env=env)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["lead"]["first_name"] == NAME

    target = tmp_path / "export.json"
    written = runner.invoke(main, ["leads", "export", str(lead_id), "-o", str(target)], env=env)
    assert written.exit_code == 0, written.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert FREE_TEXT in target.read_text()


def test_cli_deletes_after_confirmation_and_refuses_bad_ids(
    cli_env: tuple[dict[str, str], uuid.UUID],
) -> None:
    env, lead_id = cli_env
    runner = CliRunner()

    declined = runner.invoke(main, ["leads", "delete", str(lead_id)], input="n\n", env=env)
    assert declined.exit_code == 1
    deleted = runner.invoke(main, ["leads", "delete", str(lead_id)], input="y\n", env=env)
    assert deleted.exit_code == 0, deleted.output
    assert "consent ledger is kept" in deleted.output
    again = runner.invoke(main, ["leads", "delete", str(lead_id), "--yes"], env=env)
    assert again.exit_code == 1 and "no lead has the id" in again.output
    assert runner.invoke(main, ["leads", "export", "not-a-uuid"], env=env).exit_code == 2
