"""The longest submission the contract accepts goes all the way, on PostgreSQL as on SQLite.

SQLite never enforces a VARCHAR's length; PostgreSQL refuses what overflows, and a value the
intake took but a later step cannot store fails that whole step: the plan key built from a
long address once made the lead's planning fail, its team alert with it. So every field here
is at its limit (and every text non-ASCII where it may be), and the lead is followed from the
API to its first messages sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.domain.intake import rules
from intake_service.domain.outreach import delivery, processing
from intake_service.models import Lead, Message, Submission
from tests.domain.builders import LONGEST_EMAIL, database, settings_of
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

NAME = ("José María Núñez-" * 10)[: rules.MAX_NAME_CHARS]


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    return backend_url


def longest_body() -> dict[str, object]:
    source_value = "ñ" * 200  # two bytes each: five of them fill the source's byte budget
    return {
        "form": "contact",
        "contact": {
            "first_name": NAME,
            "last_name": NAME,
            "email": LONGEST_EMAIL,
            "phone": "+1 (213) 555-0150",
            "callback_window": "evening",
        },
        "treatment_interest": "ketamine",
        "message": ("Necesito ayuda con la depresión, ¿pueden llamarme? " * 100)[
            : rules.MAX_MESSAGE_CHARS
        ],
        "consent": {"sms": True, "email": True},
        "source": {f"utm_{n}": source_value for n in range(5)},
    }


def test_the_longest_submission_is_stored_processed_and_sent(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> None:
    assert len(LONGEST_EMAIL) == 254 and len(NAME) == rules.MAX_NAME_CHARS
    app = wired_app(SMS_ENABLED="true")
    headers = {"Idempotency-Key": "k" * 200, "User-Agent": "Mozilla/5.0 " + "x" * 600}

    answer = app.test_client().post("/api/v1/submissions", json=longest_body(), headers=headers)

    assert answer.status_code == 201, answer.get_json()
    db, settings = database(app), settings_of(app)
    with db.session() as session:
        lead = session.scalars(sa.select(Lead)).one()
        submission = session.scalars(sa.select(Submission)).one()
        assert (lead.first_name, lead.email) == (NAME, LONGEST_EMAIL)
        assert submission.message == longest_body()["message"]
        lead_id = lead.id
    due = processing.process_lead_routed(db, settings, lead_id)
    assert {(d.audience, d.channel) for d in due} >= {("team", "email"), ("patient", "email")}
    for each in due:
        assert delivery.deliver(db, settings, each.id).status == "sent"
    with db.session() as session:
        recipients = session.scalars(
            sa.select(Message.recipient).where(Message.audience == "patient")
        ).all()
    assert LONGEST_EMAIL in recipients
    assert any(LONGEST_EMAIL in m.rcpt_tos for m in smtp_server.messages)
    assert twilio_standin.messages
    # The same key again is the same submission, answered as before.
    again = app.test_client().post("/api/v1/submissions", json=longest_body(), headers=headers)
    assert again.status_code in (200, 201) and again.get_json()["lead_id"] == str(lead_id)


def test_an_email_from_the_longest_domain_is_recorded_as_sent_once(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    """The email's provider id is its Message-ID, which carries MAIL_FROM's domain: were it
    refused after the server took the email, the email would go again."""
    domain = f"{'m' * 63}.{'n' * 63}.{'o' * 63}.{'p' * 40}.example"
    app = wired_app(MAIL_FROM=f"Sunrise Clinic <intake@{domain}>", SMS_ENABLED="false")
    body = longest_body()
    answer = app.test_client().post("/api/v1/submissions", json=body)
    assert answer.status_code == 201, answer.get_json()
    db, settings = database(app), settings_of(app)
    lead_id = answer.get_json()["lead_id"]

    due = processing.process_lead_routed(db, settings, uuid.UUID(lead_id))
    assert due
    for each in due:
        assert delivery.deliver(db, settings, each.id).status == "sent"

    with db.session() as session:
        ids = session.scalars(
            sa.select(Message.provider_id).where(Message.id.in_([d.id for d in due]))
        ).all()
    assert len(ids) == len(due) and all(i is not None and i.endswith(f"@{domain}>") for i in ids)
    assert len(smtp_server.messages) == len(due)
