"""Processing a lead (triage, plan) and delivering its messages through real channels."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.intake.answers import TMS_ITEMS
from intake_service.domain.outreach import delivery, processing, scheduler
from intake_service.domain.templates.versions import current_version
from intake_service.models import (
    ConsentEvent,
    DevMailboxEntry,
    InvalidTransition,
    Lead,
    Message,
    MessageStatus,
    Triage,
)
from tests.domain.builders import (
    LONGEST_EMAIL,
    PATIENT_EMAIL,
    PATIENT_PHONE,
    count,
    database,
    make_due_now,
    message,
    messages_of,
    settings_of,
    submission,
)
from tests.support.smtp_server import SmtpServer
from tests.support.statements import counting
from tests.support.twilio_standin import TwilioStandin

TEAM = ("team-a@sunrise.example", "team-b@sunrise.example")
MARKER = "OKAPI-9043-PRIVATE"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    """Every ready app of this module, once on SQLite and once on PostgreSQL."""
    return backend_url


def submit(app: Flask, **changes: Any) -> uuid.UUID:
    return intake.submit(database(app), submission(**changes)).lead_id


def process(app: Flask, lead_id: uuid.UUID) -> list[int]:
    return processing.process_lead(database(app), settings_of(app), lead_id)


def deliver(app: Flask, message_id: int) -> delivery.Outcome:
    return delivery.deliver(database(app), settings_of(app), message_id)


def first_contact(app: Flask, lead_id: uuid.UUID) -> list[Message]:
    return [m for m in messages_of(database(app), lead_id) if m.step_key == "first"]


def planned(app: Flask, lead_id: uuid.UUID) -> list[tuple[str, str, str]]:
    """First contact: who is told right away (follow-up steps are tested in test_sequences)."""
    return sorted((m.audience, m.channel, m.recipient) for m in first_contact(app, lead_id))


def follow_ups(app: Flask, lead_id: uuid.UUID) -> list[tuple[str, str, str]]:
    return sorted(
        (m.step_key, m.channel, m.recipient)
        for m in messages_of(database(app), lead_id)
        if m.step_key != "first"
    )


def one(app: Flask, lead_id: uuid.UUID, audience: str, channel: str) -> Message:
    """The lead's first-contact message for this audience and channel."""
    (found,) = [
        m for m in first_contact(app, lead_id) if (m.audience, m.channel) == (audience, channel)
    ]
    return found


# --- processing ----------------------------------------------------------------------------


def test_process_lead_plans_team_emails_patient_email_and_consented_sms(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(TEAM_EMAILS=", ".join(TEAM))
    lead_id = submit(app)

    ids = process(app, lead_id)

    assert planned(app, lead_id) == [
        ("patient", "email", PATIENT_EMAIL),
        ("patient", "sms", PATIENT_PHONE),
        ("team", "email", TEAM[0]),
        ("team", "email", TEAM[1]),
    ]
    assert follow_ups(app, lead_id) == [
        ("day1", "sms", PATIENT_PHONE),
        ("day3", "email", PATIENT_EMAIL),
        ("day7", "email", PATIENT_EMAIL),
    ]
    # First contact is handed on at once; the follow-up waits in the database for its day.
    assert sorted(ids) == sorted(m.id for m in first_contact(app, lead_id))
    assert {m.status for m in first_contact(app, lead_id)} == {MessageStatus.QUEUED}
    assert {m.status for m in messages_of(database(app), lead_id) if m.step_key != "first"} == {
        MessageStatus.PLANNED
    }
    with database(app).session() as session:
        lead = session.get_one(Lead, lead_id)
        assert lead.triage is not None
        assert (lead.triage.priority, lead.triage.candidacy, lead.triage.score) == (
            "high",
            "likely",
            10,
        )
        assert lead.priority == "high"


def test_phone_without_sms_consent_gets_no_text(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    lead_id = submit(app, sms_consent=False)

    process(app, lead_id)

    assert [m.channel for m in messages_of(database(app), lead_id)].count("sms") == 0
    assert ("patient", "email", PATIENT_EMAIL) in planned(app, lead_id)


def test_phone_only_lead_gets_a_text_and_no_patient_email(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    contact = intake.Contact(first_name="Sam", phone=PATIENT_PHONE)
    lead_id = submit(app, contact=contact)

    process(app, lead_id)

    assert planned(app, lead_id) == [
        ("patient", "sms", PATIENT_PHONE),
        ("team", "email", "team@sunrise.example"),
    ]
    assert [channel for _, channel, _ in follow_ups(app, lead_id)] == ["sms"]


def test_processing_twice_triages_once_and_plans_nothing_twice(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(TEAM_EMAILS=", ".join(TEAM))
    lead_id = submit(app)
    process(app, lead_id)
    with database(app).session() as session:
        first_triage = tuple(session.execute(sa.select(Triage.id, Triage.created_at)).one())
    first_plan = [(m.id, m.plan_key) for m in messages_of(database(app), lead_id)]

    again = process(app, lead_id)

    assert again == []
    assert [(m.id, m.plan_key) for m in messages_of(database(app), lead_id)] == first_plan
    with database(app).session() as session:
        rows = session.execute(sa.select(Triage.id, Triage.created_at)).all()
        assert [tuple(row) for row in rows] == [first_triage]


def test_a_copy_of_a_done_task_reads_the_lead_and_stops(ready_app: Callable[..., Flask]) -> None:
    """The outbox sweep publishes again an event still waiting in a backlog: the copy that comes
    after the first was processed is one read, not a second processing."""
    app = ready_app(TEAM_EMAILS=", ".join(TEAM))
    lead_id = submit(app)
    process(app, lead_id)

    with counting(database(app).engine) as counts:
        again = process(app, lead_id)

    assert again == []
    assert [s.split()[0] for s in counts.statements] == ["SELECT"], counts.statements


def test_a_returning_leads_new_submission_is_processed_after_the_first(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(TEAM_EMAILS=", ".join(TEAM))
    lead_id = submit(app)
    process(app, lead_id)
    team_emails = [m for m in messages_of(database(app), lead_id) if m.audience == "team"]

    assert submit(app, message="Calling again, still waiting to hear back.") == lead_id
    process(app, lead_id)

    after = [m for m in messages_of(database(app), lead_id) if m.audience == "team"]
    assert len(after) > len(team_emails)  # the team hears of the return
    with database(app).session() as session:
        waiting = session.execute(
            sa.text("SELECT count(*) FROM outbox_events WHERE processed_at IS NULL")
        ).scalar()
    assert waiting == 0


def test_the_longest_valid_address_is_planned_and_sent(
    ready_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    """254 characters, the most email-validator takes: every key built from it fits its column
    (SQLite never checks a VARCHAR's length; PostgreSQL refuses what overflows)."""
    longest = LONGEST_EMAIL
    assert len(longest) == 254
    app = ready_app(TEAM_EMAILS=", ".join(TEAM), SMTP_URL=smtp_server.url, SMS_ENABLED="false")
    contact = intake.Contact(
        first_name="Jane", last_name="Doe", email=longest, phone=None, callback_window="evening"
    )
    lead_id = submit(app, contact=contact, sms_consent=False)

    due = process(app, lead_id)

    to_patient = [m for m in messages_of(database(app), lead_id) if m.audience == "patient"]
    assert to_patient and {m.recipient for m in to_patient} == {longest}
    for message_id in due:
        assert deliver(app, message_id).status == "sent"
    assert any(longest in envelope.rcpt_tos for envelope in smtp_server.messages)


def test_processing_marks_the_outbox_event_processed(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    lead_id = submit(app)

    process(app, lead_id)

    with database(app).session() as session:
        processed = session.execute(sa.text("SELECT processed_at FROM outbox_events")).scalar()
    assert processed is not None


def test_processing_an_unknown_lead_plans_nothing(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()

    assert process(app, uuid.uuid4()) == []
    assert count(database(app), "messages") == 0


# --- delivering, dev mailbox ----------------------------------------------------------------


def test_each_message_is_sent_once_and_records_version_provider_id_and_time(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    lead_id = submit(app)
    ids = process(app, lead_id)
    before = utcnow()

    outcomes = [deliver(app, message_id) for message_id in ids]
    repeats = [deliver(app, message_id) for message_id in ids]

    assert [o.status for o in outcomes] == [MessageStatus.SENT] * len(ids)
    assert [o.status for o in repeats] == ["skipped"] * len(ids)
    assert count(database(app), "dev_mailbox") == len(ids)
    with database(app).session() as session:
        for message_id in ids:
            sent = session.get_one(Message, message_id)
            version = current_version(session, sent.template_key, sent.channel)
            assert sent.status == MessageStatus.SENT
            assert sent.template_version_id == version.id
            assert sent.provider_id is not None and sent.provider_id.startswith("dev-")
            assert sent.sent_at is not None and sent.sent_at >= before
            assert sent.attempts == 1
            entry = session.scalars(
                sa.select(DevMailboxEntry).where(DevMailboxEntry.provider_id == sent.provider_id)
            ).one()
            assert entry.recipient == sent.recipient
            assert entry.body_text == sent.body_text


def test_message_not_yet_due_is_skipped(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    lead_id = submit(app)
    ids = process(app, lead_id)
    with database(app).transaction() as session:
        session.execute(
            sa.update(Message)
            .where(Message.id == ids[0])
            .values(due_at=utcnow() + dt.timedelta(hours=1))
        )

    assert deliver(app, ids[0]).status == "skipped"
    assert message(database(app), ids[0]).status == MessageStatus.QUEUED


def test_text_is_suppressed_when_its_consent_is_gone(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    lead_id = submit(app)
    process(app, lead_id)
    with database(app).transaction() as session:
        session.execute(
            sa.delete(ConsentEvent).where(
                ConsentEvent.lead_id == lead_id, ConsentEvent.channel == "sms"
            )
        )
    sms = one(app, lead_id, "patient", "sms")

    outcome = deliver(app, sms.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.SUPPRESSED, "no_consent")
    after = message(database(app), sms.id)
    assert (after.status, after.last_error, after.sent_at) == ("suppressed", "no_consent", None)
    with database(app).session() as session:
        texts = session.scalars(sa.select(DevMailboxEntry).where(DevMailboxEntry.channel == "sms"))
        assert texts.all() == []


def test_text_is_suppressed_after_the_patient_opts_out(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    lead_id = submit(app)
    process(app, lead_id)
    with database(app).transaction() as session:
        session.add(
            ConsentEvent(
                lead_id=lead_id,
                channel="sms",
                action="opt_out",
                occurred_at=utcnow(),
                wording_version="keyword",
                wording="STOP",
                source="sms_keyword",
            )
        )

    outcome = deliver(app, one(app, lead_id, "patient", "sms").id)

    assert (outcome.status, outcome.detail) == (MessageStatus.SUPPRESSED, "no_consent")


def test_closed_lead_gets_no_patient_messages_but_the_team_is_still_told(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    lead_id = submit(app)
    process(app, lead_id)
    with database(app).transaction() as session:
        session.get_one(Lead, lead_id).status = "closed"

    patient_email = deliver(app, one(app, lead_id, "patient", "email").id)
    patient_sms = deliver(app, one(app, lead_id, "patient", "sms").id)
    team = deliver(app, one(app, lead_id, "team", "email").id)

    assert (patient_email.status, patient_email.detail) == ("suppressed", "lead_closed")
    assert (patient_sms.status, patient_sms.detail) == ("suppressed", "lead_closed")
    assert team.status == MessageStatus.SENT
    assert count(database(app), "dev_mailbox") == 1


def test_missing_template_fails_the_message_visibly(make_app: Callable[..., Flask]) -> None:
    app = make_app()  # templates never loaded
    lead_id = submit(app)
    ids = process(app, lead_id)

    outcome = deliver(app, ids[0])

    assert (outcome.status, outcome.detail) == (MessageStatus.FAILED, "template")
    failed = message(database(app), ids[0])
    assert failed.last_error is not None and failed.last_error.startswith("template:")
    assert failed.failed_at is not None


# --- delivering by SMTP --------------------------------------------------------------------


def test_team_email_arrives_by_smtp_with_what_staff_need_and_no_answers(
    ready_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = ready_app(SMTP_URL=smtp_server.url, SMTP_TIMEOUT="2")
    lead_id = submit(app, message=f"Please call after six. {MARKER}")
    process(app, lead_id)
    team = one(app, lead_id, "team", "email")

    outcome = deliver(app, team.id)

    assert outcome.status == MessageStatus.SENT
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("team@sunrise.example",)
    email = mail.message
    assert email["To"] == "team@sunrise.example"
    # The subject shows on lock screens: the lead's reference, never the patient's name.
    assert email["Subject"] == f"New lead: high priority (ref {lead_id.hex[:8]})"
    body = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    assert body is not None and html is not None
    text = body.get_content()
    for line in (
        "Name: Jane Doe",
        "Priority: high",
        "Treatment of interest: TMS",
        "Callback window: evening",
        f"http://127.0.0.1:5000/staff/leads/{lead_id}",
    ):
        assert line in text
    assert f'href="http://127.0.0.1:5000/staff/leads/{lead_id}"' in html.get_content()
    # Decoded parts: quoted-printable line breaks could split a marker in the raw message.
    everything = "\n".join((email["Subject"], text, html.get_content()))
    assert MARKER not in everything
    for key, wording in TMS_ITEMS.items():
        assert key not in everything
        assert wording not in everything
    assert message(database(app), team.id).provider_id == email["Message-ID"]


def test_patient_email_arrives_by_smtp_addressed_to_the_patient(
    ready_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = ready_app(SMTP_URL=smtp_server.url, SMTP_TIMEOUT="2")
    lead_id = submit(app)
    process(app, lead_id)

    deliver(app, one(app, lead_id, "patient", "email").id)

    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == (PATIENT_EMAIL,)
    assert mail.message["Subject"] == "Thanks for contacting Sunrise Clinic"
    assert mail.message["From"] == "Sunrise Clinic <intake@sunrise.example>"


def test_smtp_451_puts_the_message_back_on_the_schedule_with_backoff(
    ready_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = ready_app(SMTP_URL=smtp_server.url, SMTP_TIMEOUT="2")
    lead_id = submit(app)
    process(app, lead_id)
    team = one(app, lead_id, "team", "email")
    smtp_server.reject_next(451, stage="rcpt")
    before = utcnow()

    outcome = deliver(app, team.id)

    assert outcome.status == MessageStatus.PLANNED
    retry = message(database(app), team.id)
    assert retry.status == MessageStatus.PLANNED
    assert retry.attempts == 1
    base = dt.timedelta(seconds=settings_of(app).delivery.backoff_base)
    assert retry.due_at > before + base / 2 - dt.timedelta(seconds=1)
    assert retry.last_error == "recipient_deferred"
    assert retry.sent_at is None
    assert smtp_server.messages == []
    assert deliver(app, team.id).status == "skipped"  # not due yet


def test_smtp_550_fails_the_message_with_its_reason(
    ready_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = ready_app(SMTP_URL=smtp_server.url, SMTP_TIMEOUT="2")
    lead_id = submit(app)
    process(app, lead_id)
    patient = one(app, lead_id, "patient", "email")
    smtp_server.reject_next(550, stage="rcpt")

    outcome = deliver(app, patient.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.FAILED, "recipient_rejected")
    failed = message(database(app), patient.id)
    assert (failed.status, failed.last_error) == ("failed", "recipient_rejected")
    assert failed.failed_at is not None
    assert deliver(app, patient.id).status == "skipped"


def test_transient_failures_up_to_max_attempts_end_in_failed(
    ready_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = ready_app(SMTP_URL=smtp_server.url, SMTP_TIMEOUT="2", DELIVERY_MAX_ATTEMPTS="4")
    max_attempts = settings_of(app).delivery.max_attempts
    lead_id = submit(app)
    process(app, lead_id)
    team = one(app, lead_id, "team", "email")
    smtp_server.reject_next(451, stage="rcpt", count=max_attempts)

    statuses = []
    for _ in range(max_attempts):
        make_due_now(database(app), team.id)
        statuses.append(deliver(app, team.id).status)

    assert statuses == [MessageStatus.PLANNED] * (max_attempts - 1) + [MessageStatus.FAILED]
    final = message(database(app), team.id)
    assert (final.status, final.attempts) == ("failed", max_attempts)
    assert final.failed_at is not None
    make_due_now(database(app), team.id)
    assert deliver(app, team.id).status == "skipped"
    assert smtp_server.messages == []


def test_message_retried_after_a_transient_failure_is_sent_once_the_relay_recovers(
    ready_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = ready_app(SMTP_URL=smtp_server.url, SMTP_TIMEOUT="2")
    lead_id = submit(app)
    process(app, lead_id)
    team = one(app, lead_id, "team", "email")
    smtp_server.stop()
    assert deliver(app, team.id).status == MessageStatus.PLANNED
    smtp_server.start()

    make_due_now(database(app), team.id)
    outcome = deliver(app, team.id)

    assert outcome.status == MessageStatus.SENT
    assert len(smtp_server.wait_for(1)) == 1
    sent = message(database(app), team.id)
    assert (sent.attempts, sent.last_error) == (2, None)


# --- delivering by Twilio ------------------------------------------------------------------


@pytest.fixture
def twilio_app(ready_app: Callable[..., Flask], twilio_standin: TwilioStandin) -> Flask:
    return ready_app(
        TWILIO_ACCOUNT_SID=twilio_standin.account_sid,
        TWILIO_AUTH_TOKEN=twilio_standin.auth_token,
        TWILIO_FROM_NUMBER="+13105550100",
        TWILIO_API_BASE_URL=twilio_standin.base_url,
        TWILIO_TIMEOUT="2",
    )


def test_text_reaches_twilio_with_the_right_to_and_body(
    twilio_app: Flask, twilio_standin: TwilioStandin
) -> None:
    lead_id = submit(twilio_app)
    process(twilio_app, lead_id)
    sms = one(twilio_app, lead_id, "patient", "sms")

    outcome = deliver(twilio_app, sms.id)

    assert outcome.status == MessageStatus.SENT
    (sent,) = twilio_standin.messages
    assert sent["to"] == PATIENT_PHONE
    assert sent["from"] == "+13105550100"
    stored = message(database(twilio_app), sms.id)
    assert sent["body"] == stored.body_text
    assert sent["body"].startswith("Hi Jane, Sunrise Clinic here.")
    assert stored.provider_id == sent["sid"]
    assert sent["status_callback"] is None  # a local base URL cannot take Twilio's callbacks


def test_text_sent_to_twilio_carries_no_trailing_newline(
    twilio_app: Flask, twilio_standin: TwilioStandin
) -> None:
    # Every character of a text is billed and counted towards the 160/153 segment limits;
    # a trailing newline is a character the patient never needed.
    lead_id = submit(twilio_app)
    process(twilio_app, lead_id)

    deliver(twilio_app, one(twilio_app, lead_id, "patient", "sms").id)

    (sent,) = twilio_standin.messages
    assert sent["body"] == sent["body"].strip()


def test_twilio_invalid_number_fails_the_text_at_once(
    twilio_app: Flask, twilio_standin: TwilioStandin
) -> None:
    lead_id = submit(twilio_app)
    process(twilio_app, lead_id)
    sms = one(twilio_app, lead_id, "patient", "sms")
    twilio_standin.error_next(21211)

    outcome = deliver(twilio_app, sms.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.FAILED, "invalid_number")
    failed = message(database(twilio_app), sms.id)
    assert (failed.status, failed.last_error, failed.attempts) == ("failed", "invalid_number", 1)
    assert twilio_standin.messages == []


def test_twilio_429_waits_at_least_its_retry_after(
    twilio_app: Flask, twilio_standin: TwilioStandin
) -> None:
    lead_id = submit(twilio_app)
    process(twilio_app, lead_id)
    sms = one(twilio_app, lead_id, "patient", "sms")
    twilio_standin.rate_limit_next(retry_after=120)
    before = utcnow()

    outcome = deliver(twilio_app, sms.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.PLANNED, "rate_limited")
    retry = message(database(twilio_app), sms.id)
    assert retry.due_at >= before + dt.timedelta(seconds=120)
    assert retry.status == MessageStatus.PLANNED


# --- handing due messages to workers -------------------------------------------------------


def add_messages(
    db: Database, lead_id: uuid.UUID, due_ats: list[dt.datetime], **values: Any
) -> list[int]:
    with db.transaction() as session:
        rows = [
            Message(
                lead_id=lead_id,
                plan_key=f"test:{uuid.uuid4().hex}",
                step_key="test",
                audience="team",
                channel="email",
                template_key="team_new_lead",
                recipient="team@sunrise.example",
                due_at=due_at,
                **values,
            )
            for due_at in due_ats
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_claim_due_queues_due_messages_and_leaves_future_ones_planned(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    db = database(app)
    lead_id = submit(app)
    now = utcnow()
    due = add_messages(db, lead_id, [now - dt.timedelta(minutes=5), now - dt.timedelta(seconds=1)])
    future = add_messages(db, lead_id, [now + dt.timedelta(hours=1)])

    claimed = scheduler.claim_due(db, settings_of(app).delivery)

    assert sorted(claimed) == sorted(due)
    assert [message(db, i).status for i in due] == [MessageStatus.QUEUED] * 2
    assert all(message(db, i).queued_at is not None for i in due)
    assert message(db, future[0]).status == MessageStatus.PLANNED
    assert scheduler.claim_due(db, settings_of(app).delivery) == []  # queued, not stale


def test_claim_due_requeues_messages_whose_broker_copy_was_lost(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    db = database(app)
    policy = settings_of(app).delivery
    lead_id = submit(app)
    now = utcnow()
    stale = add_messages(
        db,
        lead_id,
        [now - dt.timedelta(minutes=10)],
        status=MessageStatus.QUEUED,
        queued_at=now - dt.timedelta(seconds=policy.requeue_after + 1),
    )

    assert scheduler.claim_due(db, policy) == stale


def test_claim_due_for_one_lead_leaves_other_leads_alone(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    db = database(app)
    # Two people: the same contact twice would be one returning lead (issue 10).
    someone_else = intake.Contact(first_name="Ana", email="ana@patients.example")
    mine, other = submit(app), submit(app, contact=someone_else, sms_consent=False)
    past = utcnow() - dt.timedelta(seconds=1)
    my_ids = add_messages(db, mine, [past])
    other_ids = add_messages(db, other, [past])

    assert scheduler.claim_due(db, settings_of(app).delivery, mine) == my_ids
    assert message(db, other_ids[0]).status == MessageStatus.PLANNED


def test_concurrent_claims_on_postgresql_never_share_a_message(
    make_app: Callable[..., Flask], pg_url: str
) -> None:
    app = make_app(DATABASE_URL=pg_url)
    db = database(app)
    lead_id = submit(app)
    total = scheduler.BATCH + 100
    all_ids = add_messages(db, lead_id, [utcnow() - dt.timedelta(seconds=1)] * total)
    # Hold both schedulers right after their SELECT of due ids until both have run it, so each
    # selects while the other's row locks are held. Without FOR UPDATE both get the same ids;
    # with a plain FOR UPDATE the second blocks and the barrier breaks; SKIP LOCKED passes.
    both_selected = threading.Barrier(2, timeout=5)

    def wait_for_the_other(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT messages.id"):
            both_selected.wait()

    sa.event.listen(db.engine, "after_cursor_execute", wait_for_the_other)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(
                lambda _: scheduler.claim_due(db, settings_of(app).delivery), range(2)
            )
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", wait_for_the_other)

    assert set(first).isdisjoint(second)
    assert sorted(first + second) == sorted(all_ids)
    assert {message(db, i).status for i in all_ids} == {MessageStatus.QUEUED}


# --- the state machine ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("sent", "planned"),
        ("sent", "sending"),
        ("planned", "sent"),  # a send is always claimed first
        ("delivered", "sent"),
        ("delivered", "failed"),
        ("suppressed", "planned"),
        ("cancelled", "queued"),
        ("undelivered", "sent"),
        ("failed", "sent"),
    ],
)
def test_message_refuses_an_illegal_status_change(current: str, new: str) -> None:
    row = Message(id=1, status=current)

    with pytest.raises(InvalidTransition, match=f"{current} -> {new}"):
        row.transition(MessageStatus(new))

    assert row.status == current


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("planned", "queued"),
        ("queued", "sending"),
        ("sending", "sent"),
        ("sending", "planned"),  # a transient failure waiting for its retry
        ("sent", "delivered"),
        ("failed", "planned"),  # an operator's retry
    ],
)
def test_message_takes_a_legal_status_change(current: str, new: str) -> None:
    row = Message(id=1, status=current)

    row.transition(MessageStatus(new))

    assert row.status == new
