"""A real Celery worker on the real Redis broker and PostgreSQL takes a lead end to end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis
import sqlalchemy as sa
from celery.contrib.testing.worker import start_worker
from flask import Flask

from intake_service.domain import intake
from intake_service.models import Message, MessageStatus, OutboxEvent
from tests.domain.builders import PATIENT_EMAIL, PATIENT_PHONE, database, load_templates, submission
from tests.support.services import unique_name
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

DEADLINE = 15.0  # seconds: speed to lead is measured in seconds, even through the broker


@pytest.fixture
def queue(redis_url: str) -> Iterator[str]:
    name = unique_name("intake_worker_queue")
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name, *client.keys(f"*{name}*"))


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.05)


def test_worker_processes_a_submitted_lead_into_team_email_patient_email_and_text(
    make_app: Callable[..., Flask],
    pg_url: str,
    redis_url: str,
    queue: str,
    smtp_server: SmtpServer,
    twilio_standin: TwilioStandin,
) -> None:
    app = make_app(
        DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        CELERY_QUEUE=queue,
        SMTP_URL=smtp_server.url,
        SMTP_TIMEOUT="2",
        **twilio_standin.env(),
    )
    db = database(app)
    load_templates(db)

    with start_worker(
        app.extensions["celery"], pool="solo", perform_ping_check=False, shutdown_timeout=10
    ):
        started = time.monotonic()
        with app.app_context():  # as a request does: the app's broker gets the event at once
            lead_id = intake.submit(db, submission()).lead_id

        mails = smtp_server.wait_for(2, timeout=DEADLINE)
        wait_until(lambda: len(twilio_standin.messages) == 1)
        elapsed = time.monotonic() - started

        def all_sent() -> bool:
            with db.session() as session:
                statuses = session.scalars(
                    sa.select(Message.status).where(
                        Message.lead_id == lead_id, Message.step_key == "first"
                    )
                ).all()
            return len(statuses) == 3 and set(statuses) == {MessageStatus.SENT}

        wait_until(all_sent)

    assert elapsed < DEADLINE
    assert sorted(mail.rcpt_tos for mail in mails) == [(PATIENT_EMAIL,), ("team@sunrise.example",)]
    team = next(m.message for m in mails if m.rcpt_tos == ("team@sunrise.example",))
    body = team.get_body(preferencelist=("plain",))
    assert body is not None and f"/staff/leads/{lead_id}" in body.get_content()
    (text,) = twilio_standin.messages
    assert text["to"] == PATIENT_PHONE
    assert "Sunrise Clinic" in text["body"]
    with db.session() as session:
        event = session.scalars(sa.select(OutboxEvent)).one()
        assert event.processed_at is not None
