"""What a failed message means: contact points marked, the other channel tried, retries with
backoff, the team told once when nobody reached the patient, and every failure explained."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.config import DeliverySettings
from intake_service.db import Database
from intake_service.domain.compliance.consent import has_consent
from intake_service.domain.outreach import dead_letters, delivery
from intake_service.models import ConsentEvent, DeliveryAttempt, Message, MessageStatus
from tests.domain.builders import (
    PATIENT_EMAIL,
    PATIENT_PHONE,
    attempts_of,
    database,
    deliver,
    find,
    lead_row,
    make_due_now,
    message,
    messages_of,
    process,
    set_columns,
    submit,
    tick,
    urgent_phq9,
)
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

TEAM = ("team-a@sunrise.example", "team-b@sunrise.example")
BAD_NUMBER_CODES = [
    (21211, "invalid_number"),
    (21614, "not_mobile"),
    (21408, "region_not_enabled"),
]


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    """Every wired app of this module, once on SQLite and once on PostgreSQL."""
    return backend_url


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def posts(standin: TwilioStandin) -> int:
    return sum(1 for r in standin.requests if r.method == "POST")


def send_first_contact(app: Flask, lead_id: uuid.UUID) -> None:
    """Process the lead and deliver its first contact, all of which must go out."""
    for message_id in process(app, lead_id):
        assert deliver(app, message_id).status == MessageStatus.SENT


def assert_explained(db: Database, message_id: int) -> None:
    """A failed message says why, and has one finished attempt row for each try."""
    failed = message(db, message_id)
    assert failed.status == MessageStatus.FAILED
    assert failed.last_error, f"message {message_id} failed without a reason"
    assert failed.failed_at is not None
    tries = attempts_of(db, message_id)
    assert [number for number, _, _ in tries] == list(range(1, failed.attempts + 1))
    for number, outcome, detail in tries:
        assert outcome in ("transient", "maybe_sent", "permanent"), (number, outcome)
        assert detail, f"attempt {number} of message {message_id} has no detail"


def unreachable_rows(db: Database, lead_id: uuid.UUID) -> list[Message]:
    return [m for m in messages_of(db, lead_id) if m.template_key == "team_unreachable"]


# --- texts Twilio refuses for good ---------------------------------------------------------


@pytest.mark.parametrize(("code", "reason"), BAD_NUMBER_CODES)
def test_unusable_number_fails_the_text_at_once_marks_the_phone_and_suppresses_later_texts(
    wired_app: Callable[..., Flask], twilio_standin: TwilioStandin, code: int, reason: str
) -> None:
    app = wired_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    sms = find(app, lead_id, "first", "sms")
    twilio_standin.error_next(code)

    outcome = deliver(app, sms.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.FAILED, reason)
    failed = message(db, sms.id)
    assert (failed.status, failed.last_error, failed.attempts) == ("failed", reason, 1)
    assert attempts_of(db, sms.id) == [(1, "permanent", reason)]
    assert lead_row(db, lead_id).phone_status == reason
    # The first email was planned already: the fallback adds no second one.
    assert [m.channel for m in messages_of(db, lead_id) if m.step_key == "first"].count(
        "email"
    ) == 2  # the team's and the patient's
    day1 = find(app, lead_id, "day1", "sms")
    make_due_now(db, day1.id)
    later = deliver(app, day1.id)
    assert (later.status, later.detail) == (MessageStatus.SUPPRESSED, f"sms_{reason}")
    assert posts(twilio_standin) == 1  # the refused one; nothing more went to that number
    assert twilio_standin.messages == []


@pytest.mark.parametrize(("code", "reason"), BAD_NUMBER_CODES)
def test_refused_text_falls_back_to_an_email_of_the_same_step_which_is_sent(
    wired_app: Callable[..., Flask],
    smtp_server: SmtpServer,
    twilio_standin: TwilioStandin,
    code: int,
    reason: str,
) -> None:
    app = wired_app()
    db = database(app)
    lead_id = submit(app)
    send_first_contact(app, lead_id)
    day1 = find(app, lead_id, "day1", "sms")
    make_due_now(db, day1.id)
    twilio_standin.error_next(code)

    assert deliver(app, day1.id).status == MessageStatus.FAILED

    fallback = find(app, lead_id, "day1", "email")
    assert (fallback.template_key, fallback.recipient) == (day1.template_key, PATIENT_EMAIL)
    assert fallback.status == MessageStatus.PLANNED
    assert fallback.due_at <= utcnow()
    outcomes = tick(app)  # the scheduler's next tick hands it to a worker

    assert list(outcomes) == [fallback.id]
    assert outcomes[fallback.id].status == MessageStatus.SENT
    sent = message(db, fallback.id)
    (checkin,) = [
        mail
        for mail in smtp_server.wait_for(3)
        if mail.message["Subject"] == "Would you still like a call from Sunrise Clinic?"
    ]
    assert checkin.rcpt_tos == (PATIENT_EMAIL,)
    assert checkin.message["Message-ID"] == sent.provider_id
    assert sent.template_key == "patient_checkin"


def test_refused_text_has_no_email_fallback_without_email_consent(
    wired_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = wired_app()
    db = database(app)
    lead_id = submit(app, email_consent=False)
    process(app, lead_id)
    twilio_standin.error_next(21211)

    assert deliver(app, find(app, lead_id, "first", "sms").id).status == MessageStatus.FAILED

    patient = [(m.step_key, m.channel) for m in messages_of(db, lead_id) if m.audience == "patient"]
    assert sorted(patient) == [("day1", "sms"), ("first", "sms")]


def test_twilio_opt_out_records_it_in_the_consent_ledger_and_stops_the_sequence(
    wired_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = wired_app()
    db = database(app)
    lead_id = submit(app)
    ids = process(app, lead_id)
    sms = find(app, lead_id, "first", "sms")
    for message_id in ids:
        if message_id != sms.id:
            assert deliver(app, message_id).status == MessageStatus.SENT
    twilio_standin.error_next(21610)

    outcome = deliver(app, sms.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.FAILED, "opted_out")
    with db.session() as session:
        (event,) = session.scalars(
            sa.select(ConsentEvent).where(
                ConsentEvent.lead_id == lead_id, ConsentEvent.action == "opt_out"
            )
        ).all()
        assert (event.channel, event.source) == ("sms", "provider")
        assert "21610" in event.wording
        assert not has_consent(session, lead_id, "sms")
    lead = lead_row(db, lead_id)
    assert (lead.phone_status, lead.sequence_stop_reason) == ("opted_out", "opted_out")
    assert lead.sequence_stopped_at is not None
    follow_up = [m for m in messages_of(db, lead_id) if m.step_key != "first"]
    assert {(m.step_key, m.status) for m in follow_up} == {
        ("day1", MessageStatus.CANCELLED),
        ("day3", MessageStatus.CANCELLED),
        ("day7", MessageStatus.CANCELLED),
    }
    assert tick(app) == {}  # no fallback, nothing more for this lead
    assert unreachable_rows(db, lead_id) == []  # the first email reached them


# --- emails the relay refuses for good -----------------------------------------------------


def test_rejected_email_marks_the_address_and_falls_back_to_a_text_of_the_same_step(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> None:
    app = wired_app()
    db = database(app)
    lead_id = submit(app)
    send_first_contact(app, lead_id)
    day3 = find(app, lead_id, "day3", "email")
    make_due_now(db, day3.id)
    smtp_server.reject_next(550, stage="rcpt")

    outcome = deliver(app, day3.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.FAILED, "recipient_rejected")
    assert lead_row(db, lead_id).email_status == "rejected"
    assert attempts_of(db, day3.id) == [(1, "permanent", "recipient_rejected")]
    fallback = find(app, lead_id, "day3", "sms")
    assert (fallback.template_key, fallback.recipient) == ("patient_treatment_info", PATIENT_PHONE)
    assert tick(app)[fallback.id].status == MessageStatus.SENT
    texts = [t for t in twilio_standin.messages if "questions about treatment" in t["body"]]
    assert [t["to"] for t in texts] == [PATIENT_PHONE]
    day7 = find(app, lead_id, "day7", "email")
    make_due_now(db, day7.id)
    later = deliver(app, day7.id)
    assert (later.status, later.detail) == (MessageStatus.SUPPRESSED, "email_rejected")


def test_rejected_email_has_no_text_fallback_without_sms_consent(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = wired_app()
    db = database(app)
    lead_id = submit(app, sms_consent=False)
    send_first_contact(app, lead_id)
    day3 = find(app, lead_id, "day3", "email")
    make_due_now(db, day3.id)
    smtp_server.reject_next(550, stage="rcpt")

    assert deliver(app, day3.id).status == MessageStatus.FAILED

    assert [m for m in messages_of(db, lead_id) if m.channel == "sms"] == []


# --- telling the team when nobody reached the patient --------------------------------------


def fail_both_first_replies(
    app: Flask, lead_id: uuid.UUID, smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> tuple[int, int]:
    """Send the team email, then have the relay reject the patient's email and Twilio the text."""
    ids = process(app, lead_id)
    email = find(app, lead_id, "first", "email")
    sms = find(app, lead_id, "first", "sms")
    for message_id in ids:
        if message_id not in (email.id, sms.id):
            assert deliver(app, message_id).status == MessageStatus.SENT
    smtp_server.reject_next(550, stage="rcpt")
    assert deliver(app, email.id).status == MessageStatus.FAILED
    twilio_standin.error_next(21211)
    assert deliver(app, sms.id).status == MessageStatus.FAILED
    return email.id, sms.id


def test_urgent_lead_nobody_reached_makes_one_unreachable_email_per_team_address(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> None:
    app = wired_app(TEAM_EMAILS=", ".join(TEAM))
    db = database(app)
    lead_id = submit(app, **urgent_phq9())
    email_id, sms_id = fail_both_first_replies(app, lead_id, smtp_server, twilio_standin)
    failed_bodies = [message(db, i).body_text for i in (email_id, sms_id)]

    outcomes = tick(app)

    rows = unreachable_rows(db, lead_id)
    assert sorted(m.recipient for m in rows) == sorted(TEAM)
    assert {outcomes[m.id].status for m in rows} == {MessageStatus.SENT}
    mails = [
        m for m in smtp_server.wait_for(4) if m.message["Subject"].startswith("Could not reach")
    ]
    assert sorted(m.rcpt_tos[0] for m in mails) == sorted(TEAM)
    for mail in mails:
        # Lock screens show subjects: the lead by its reference, never the patient's name.
        assert mail.message["Subject"] == (
            f"Could not reach lead ref {lead_id.hex[:8]}: please call (URGENT)"
        )
        plain = mail.message.get_body(preferencelist=("plain",))
        assert plain is not None
        text = plain.get_content()
        assert "Failed: email: recipient_rejected" in text
        assert "Failed: text: invalid_number" in text
        assert f"/staff/leads/{lead_id}" in text
        for body in failed_bodies:  # reasons, never what the patient was sent
            assert body and body not in text
        assert "thanks for contacting" not in text.lower()
        assert "sunrise clinic here" not in text.lower()
        assert "988" not in text
    for message_id in (email_id, sms_id):
        assert_explained(db, message_id)


def test_team_is_told_once_however_many_patient_messages_fail(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> None:
    app = wired_app(TEAM_EMAILS=", ".join(TEAM), DELIVERY_MAX_ATTEMPTS="1")
    db = database(app)
    lead_id = submit(app, **urgent_phq9())
    process(app, lead_id)
    patient = [find(app, lead_id, "first", c) for c in ("email", "sms")]
    for team_row in [m for m in messages_of(db, lead_id) if m.audience == "team"]:
        deliver(app, team_row.id)

    # Each patient message fails, is retried by an operator, and fails again: four failures.
    for _ in range(2):
        smtp_server.reject_next(451, stage="rcpt")
        twilio_standin.fail_next(status=503)
        for row in patient:
            make_due_now(db, row.id)
            assert deliver(app, row.id).status == MessageStatus.FAILED
        assert len(unreachable_rows(db, lead_id)) == len(TEAM)
        for row in unreachable_rows(db, lead_id):
            if row.status == MessageStatus.PLANNED:
                assert deliver(app, row.id).status == MessageStatus.SENT
        for row in patient:
            dead_letters.retry(db, row.id)

    assert sorted(m.recipient for m in unreachable_rows(db, lead_id)) == sorted(TEAM)
    told = [m for m in smtp_server.messages if m.message["Subject"].startswith("Could not reach")]
    assert len(told) == len(TEAM)


def test_lead_with_a_follow_up_still_planned_is_reported_unreachable_when_first_contact_fails(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> None:
    # Issue 4: "the team is told once when a lead could not be reached at all". Every ordinary
    # lead has day 1, 3 and 7 messages planned; with its email rejected and its number invalid
    # those can never reach anyone either (they will be suppressed), so they must not count as
    # a pending chance to reach the patient.
    app = wired_app(TEAM_EMAILS=", ".join(TEAM))
    db = database(app)
    lead_id = submit(app)
    fail_both_first_replies(app, lead_id, smtp_server, twilio_standin)

    assert sorted(m.recipient for m in unreachable_rows(db, lead_id)) == sorted(TEAM)


def test_team_is_not_told_while_another_patient_message_reached_them(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> None:
    app = wired_app()
    db = database(app)
    lead_id = submit(app, **urgent_phq9())
    process(app, lead_id)
    for row in messages_of(db, lead_id):
        if row.channel == "email":
            deliver(app, row.id)
    twilio_standin.error_next(21211)

    assert deliver(app, find(app, lead_id, "first", "sms").id).status == MessageStatus.FAILED

    assert unreachable_rows(db, lead_id) == []


# --- transient failures --------------------------------------------------------------------


def test_rate_limited_text_retries_no_sooner_than_retry_after_then_gives_up_at_max_attempts(
    wired_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = wired_app(DELIVERY_MAX_ATTEMPTS="3")
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    sms = find(app, lead_id, "first", "sms")
    twilio_standin.rate_limit_next(count=3, retry_after=600)

    outcomes = []
    for _ in range(3):
        make_due_now(db, sms.id)
        before = utcnow()
        outcomes.append(deliver(app, sms.id).status)
        retry = message(db, sms.id)
        if retry.status == MessageStatus.PLANNED:
            assert retry.due_at >= before + dt.timedelta(seconds=600)

    assert outcomes == [MessageStatus.PLANNED, MessageStatus.PLANNED, MessageStatus.FAILED]
    final = message(db, sms.id)
    assert final.last_error == "gave up after 3 attempts: rate_limited"
    assert attempts_of(db, sms.id) == [(n, "transient", "rate_limited") for n in (1, 2, 3)]
    assert_explained(db, sms.id)
    assert twilio_standin.messages == []


def test_twilio_server_error_retries_then_the_text_goes_out_once(
    wired_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = wired_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    sms = find(app, lead_id, "first", "sms")
    twilio_standin.fail_next(count=2, status=500, sends=True)

    statuses = []
    for _ in range(3):
        make_due_now(db, sms.id)
        statuses.append(deliver(app, sms.id).status)

    assert statuses == [MessageStatus.PLANNED, MessageStatus.PLANNED, MessageStatus.SENT]
    assert len(twilio_standin.messages) == 1
    # A 500 may follow a text Twilio created: each retry asked for it (GET) before sending.
    assert [outcome for _, outcome, _ in attempts_of(db, sms.id)] == [
        "maybe_sent",
        "maybe_sent",
        "sent",
    ]
    assert [r.method for r in twilio_standin.requests] == ["POST", "GET", "POST", "GET", "POST"]
    assert message(db, sms.id).last_error is None


def test_message_older_than_max_age_is_given_up_on_at_its_next_transient_failure(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = wired_app(DELIVERY_MAX_AGE="3600")
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    old = find(app, lead_id, "first", "email", audience="team")
    fresh = find(app, lead_id, "first", "email")
    smtp_server.reject_next(451, stage="rcpt", count=3)
    assert deliver(app, old.id).status == MessageStatus.PLANNED
    # As if it had been due, and failing, for two hours already.
    two_hours_ago = utcnow() - dt.timedelta(hours=2)
    set_columns(db, old.id, created_at=two_hours_ago)
    with db.transaction() as session:
        session.execute(
            sa.update(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == old.id)
            .values(started_at=two_hours_ago, finished_at=two_hours_ago)
        )
    make_due_now(db, old.id)

    assert deliver(app, old.id).status == MessageStatus.FAILED
    assert deliver(app, fresh.id).status == MessageStatus.PLANNED

    assert message(db, old.id).last_error == "gave up after 2 attempts: recipient_deferred"
    assert_explained(db, old.id)


def test_follow_up_due_days_after_planning_still_gets_its_retries(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    # The day 3 email is planned when the lead arrives and due three days later, beyond the
    # default DELIVERY_MAX_AGE of 48 hours. A relay hiccup on day 3 must lead to a retry, not
    # to giving up at the first try: a message's age counts from when it was due.
    app = wired_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    day3 = find(app, lead_id, "day3", "email")
    planned_at = utcnow() - dt.timedelta(days=3)
    set_columns(db, day3.id, created_at=planned_at, due_at=planned_at + dt.timedelta(days=3))
    smtp_server.reject_next(451, stage="rcpt")

    outcome = deliver(app, day3.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.PLANNED, "recipient_deferred")


@pytest.mark.parametrize("attempts", [1, 2, 3, 4, 6, 12])
def test_backoff_grows_exponentially_with_jitter_up_to_its_cap(attempts: int) -> None:
    policy = DeliverySettings(
        max_attempts=20,
        max_age=3600,
        backoff_base=10,
        backoff_cap=60,
        stale_after=30,
        requeue_after=30,
    )
    ceiling = min(10 * 2 ** (attempts - 1), 60)

    waits = {delivery.backoff(policy, attempts).total_seconds() for _ in range(200)}

    assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
    assert len(waits) > 1  # jitter spreads retries out after an outage


def test_backoff_never_comes_sooner_than_retry_after() -> None:
    policy = DeliverySettings(
        max_attempts=20,
        max_age=3600,
        backoff_base=10,
        backoff_cap=60,
        stale_after=30,
        requeue_after=30,
    )

    assert delivery.backoff(policy, 1, retry_after=300) == dt.timedelta(seconds=300)
    assert delivery.backoff(policy, 1, retry_after=0).total_seconds() >= 5


# --- every failure explained ---------------------------------------------------------------


def test_every_failed_message_has_a_reason_and_an_attempt_row_per_try(
    wired_app: Callable[..., Flask], smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> None:
    app = wired_app(DELIVERY_MAX_ATTEMPTS="2", TEAM_EMAILS=", ".join(TEAM))
    db = database(app)
    lead_id = submit(app, **urgent_phq9())
    process(app, lead_id)
    team_a, team_b = sorted(
        (m for m in messages_of(db, lead_id) if m.audience == "team"), key=lambda m: m.recipient
    )
    # team-a: two transient refusals; patient email: rejected; text: server errors, then invalid.
    smtp_server.reject_next(451, stage="rcpt", count=2)
    for _ in range(2):
        make_due_now(db, team_a.id)
        deliver(app, team_a.id)
    assert deliver(app, team_b.id).status == MessageStatus.SENT
    smtp_server.reject_next(550, stage="rcpt")
    deliver(app, find(app, lead_id, "first", "email").id)
    twilio_standin.fail_next(status=502)
    sms = find(app, lead_id, "first", "sms")
    deliver(app, sms.id)
    make_due_now(db, sms.id)
    twilio_standin.error_next(21614, sends=True)  # the look-up the 502 calls for goes through
    deliver(app, sms.id)

    with db.session() as session:
        failed_ids = session.scalars(
            sa.select(Message.id).where(Message.status == MessageStatus.FAILED)
        ).all()
    assert len(failed_ids) == 3
    for message_id in failed_ids:
        assert_explained(db, message_id)
    assert attempts_of(db, sms.id) == [
        (1, "maybe_sent", "server_error"),
        (2, "permanent", "not_mobile"),
    ]
    assert message(db, team_a.id).last_error == "gave up after 2 attempts: recipient_deferred"


def test_follow_up_text_to_a_dead_number_falls_back_to_email_when_it_is_suppressed(
    wired_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    # The first text found the number invalid; the day-1 check-in is not lost with it.
    app = wired_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    twilio_standin.error_next(21211)
    assert deliver(app, find(app, lead_id, "first", "sms").id).status == MessageStatus.FAILED
    day1 = find(app, lead_id, "day1", "sms")
    make_due_now(db, day1.id)

    assert deliver(app, day1.id).status == MessageStatus.SUPPRESSED

    fallback = find(app, lead_id, "day1", "email")
    assert (fallback.template_key, fallback.status) == ("patient_checkin", MessageStatus.PLANNED)
    assert posts(twilio_standin) == 1
