"""A worker killed mid-send: the message is reconciled with the provider, never sent twice.

The crash is simulated in-process by a channel standing in front of the configured one
(tests/support/channels.py): it lets the real channel send, then raises `WorkerKilled`, or
raises before the provider is reached. That leaves the row exactly as a kill -9 would:
`sending`, its body stored, its attempt unfinished. Then time passes (`sending_started_at` is
aged beyond DELIVERY_STALE_AFTER), the scheduler ticks and a worker delivers it again. The
same channel lets a second worker run while the first one is still talking to the provider.

These run on SQLite and on PostgreSQL: the claims and conditional records are row locks and
compare-and-set updates there, where production keeps its messages.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.channels import OutgoingMessage, PermanentError, TransientError
from intake_service.db import Database
from intake_service.domain.leads import status as leads
from intake_service.domain.outreach import delivery, scheduler
from intake_service.domain.templates.rendering import TemplateSource
from intake_service.domain.templates.versions import save_version
from intake_service.models import DeliveryAttempt, DevMailboxEntry, MessageStatus
from tests.domain.builders import (
    PATIENT_PHONE,
    attempts_of,
    database,
    deliver,
    find,
    lead_row,
    message,
    process,
    set_columns,
    settings_of,
    submit,
)
from tests.support.channels import WorkerKilled, intercepted, kill
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

TAKEN_OVER = delivery.Outcome("skipped", "taken over")


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    """Every app of this module, once on SQLite and once on PostgreSQL."""
    return backend_url


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def crash_after_the_provider_answered(app: Flask, message_id: int) -> None:
    with intercepted(database(app), after=kill), pytest.raises(WorkerKilled):
        deliver(app, message_id)


def time_passes(app: Flask, message_id: int, seconds: float | None = None) -> None:
    """Age the send beyond DELIVERY_STALE_AFTER (or by `seconds`)."""
    stale_after = settings_of(app).delivery.stale_after
    age = dt.timedelta(seconds=stale_after + 1 if seconds is None else seconds)
    set_columns(database(app), message_id, sending_started_at=utcnow() - age)


def claim_due(app: Flask) -> list[int]:
    return scheduler.claim_due(database(app), settings_of(app).delivery)


class Sink:
    """Where one provider's texts land, seen from the test: the stand-in or the dev mailbox."""

    def __init__(self, app: Flask, standin: TwilioStandin | None) -> None:
        self.app = app
        self.standin = standin

    def created(self) -> list[tuple[str, str, str]]:
        """(provider id, recipient, body) of every text the provider accepted."""
        if self.standin is not None:
            return [(m["sid"], m["to"], m["body"]) for m in self.standin.messages]
        with database(self.app).session() as session:
            entries = session.scalars(
                sa.select(DevMailboxEntry)
                .where(DevMailboxEntry.channel == "sms")
                .order_by(DevMailboxEntry.id)
            )
            return [(e.provider_id, e.recipient, e.body_text or "") for e in entries]

    def create_requests(self) -> int:
        if self.standin is not None:
            return sum(1 for r in self.standin.requests if r.method == "POST")
        return len(self.created())


@pytest.fixture(params=["twilio", "dev_mailbox"])
def texting(request: pytest.FixtureRequest, ready_app: Callable[..., Flask]) -> Sink:
    """An app texting through the Twilio stand-in, or through the dev mailbox."""
    if request.param == "twilio":
        standin: TwilioStandin = request.getfixturevalue("twilio_standin")
        return Sink(ready_app(**standin.env()), standin)
    return Sink(ready_app(), None)


def first_text(app: Flask) -> tuple[uuid.UUID, int]:
    lead_id = submit(app)
    process(app, lead_id)
    return lead_id, find(app, lead_id, "first", "sms").id


# --- a crash after the provider took the text ----------------------------------------------


def test_text_sent_before_the_crash_is_adopted_not_sent_again(texting: Sink) -> None:
    app, db = texting.app, database(texting.app)
    _, sms_id = first_text(app)

    crash_after_the_provider_answered(app, sms_id)

    crashed = message(db, sms_id)
    ((provider_id, recipient, body),) = texting.created()
    assert (crashed.status, crashed.provider_id) == (MessageStatus.SENDING, None)
    assert (crashed.body_text, recipient) == (body, PATIENT_PHONE)
    assert attempts_of(db, sms_id) == [(1, None, None)]

    time_passes(app, sms_id)
    assert claim_due(app) == [sms_id]
    requeued = message(db, sms_id)
    assert (requeued.status, requeued.needs_reconcile) == (MessageStatus.QUEUED, True)
    outcome = deliver(app, sms_id)

    assert (outcome.status, outcome.detail) == (MessageStatus.SENT, provider_id)
    assert texting.create_requests() == 1
    assert len(texting.created()) == 1
    adopted = message(db, sms_id)
    assert (adopted.status, adopted.provider_id, adopted.needs_reconcile) == (
        MessageStatus.SENT,
        provider_id,
        False,
    )
    assert [(n, outcome) for n, outcome, _ in attempts_of(db, sms_id)] == [
        (1, "abandoned"),
        (2, "adopted"),
    ]
    assert attempts_of(db, sms_id)[0][2] == "worker lost mid-send"
    assert deliver(app, sms_id).status == "skipped"


def test_text_the_crash_stopped_before_the_provider_is_sent_once(texting: Sink) -> None:
    app, db = texting.app, database(texting.app)
    _, sms_id = first_text(app)
    with intercepted(db, before=kill), pytest.raises(WorkerKilled):
        deliver(app, sms_id)
    assert message(db, sms_id).body_text is not None  # rendered: it might have been sent
    time_passes(app, sms_id)
    claim_due(app)

    outcome = deliver(app, sms_id)

    assert outcome.status == MessageStatus.SENT
    ((provider_id, _, body),) = texting.created()
    assert texting.create_requests() == 1
    assert (outcome.detail, body) == (provider_id, message(db, sms_id).body_text)
    assert [(n, outcome) for n, outcome, _ in attempts_of(db, sms_id)] == [
        (1, "abandoned"),
        (2, "sent"),
    ]
    if texting.standin is not None:  # Twilio was asked before it was sent to
        assert [r.method for r in texting.standin.requests] == ["GET", "POST"]


def test_provider_unreachable_while_reconciling_retries_later_and_still_never_duplicates(
    ready_app: Callable[..., Flask],
    twilio_standin: TwilioStandin,
) -> None:
    app = ready_app(**twilio_standin.env())
    db = database(app)
    _, sms_id = first_text(app)
    crash_after_the_provider_answered(app, sms_id)
    time_passes(app, sms_id)
    claim_due(app)
    twilio_standin.fail_next(status=503)

    assert deliver(app, sms_id).status == MessageStatus.PLANNED  # the look-up failed
    assert message(db, sms_id).needs_reconcile
    set_columns(db, sms_id, due_at=utcnow() - dt.timedelta(seconds=1))
    outcome = deliver(app, sms_id)

    assert outcome.status == MessageStatus.SENT
    assert sum(1 for r in twilio_standin.requests if r.method == "POST") == 1
    assert [o for _, o, _ in attempts_of(db, sms_id)] == ["abandoned", "transient", "adopted"]


def test_text_sent_before_a_long_outage_is_still_found_and_adopted(
    ready_app: Callable[..., Flask],
    twilio_standin: TwilioStandin,
) -> None:
    # The worker dies right after Twilio took the text, and the scheduler only comes back a
    # quarter of an hour later (a host restart, a long database outage). Reconciliation must
    # look back to when the dead worker was sending, not a fixed ten minutes from now, or the
    # patient gets the text twice.
    app = ready_app(**twilio_standin.env())
    db = database(app)
    _, sms_id = first_text(app)
    crash_after_the_provider_answered(app, sms_id)
    outage = dt.timedelta(minutes=15)
    twilio_standin.backdate(outage)
    time_passes(app, sms_id, outage.total_seconds())
    with db.transaction() as session:
        session.execute(
            sa.update(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == sms_id)
            .values(started_at=utcnow() - outage)
        )
    claim_due(app)

    deliver(app, sms_id)

    assert sum(1 for r in twilio_standin.requests if r.method == "POST") == 1
    assert [o for _, o, _ in attempts_of(db, sms_id)] == ["abandoned", "adopted"]


# --- a send whose answer never came ------------------------------------------------------------


def test_text_whose_answer_timed_out_is_adopted_on_the_retry_not_sent_again(
    ready_app: Callable[..., Flask],
    twilio_standin: TwilioStandin,
) -> None:
    # Twilio created the text, but its answer came after our timeout (a loaded provider or
    # network): the retry must find that text rather than send a second one.
    app = ready_app(**twilio_standin.env(TWILIO_TIMEOUT="0.3"))
    db = database(app)
    _, sms_id = first_text(app)
    twilio_standin.delay = 1.0

    timed_out = deliver(app, sms_id)

    twilio_standin.delay = 0
    [accepted] = twilio_standin.messages
    assert (timed_out.status, timed_out.detail) == (MessageStatus.PLANNED, "timeout")
    assert message(db, sms_id).needs_reconcile
    assert attempts_of(db, sms_id) == [(1, "maybe_sent", "timeout")]
    set_columns(db, sms_id, due_at=utcnow() - dt.timedelta(seconds=1))
    claim_due(app)

    outcome = deliver(app, sms_id)

    assert (outcome.status, outcome.detail) == (MessageStatus.SENT, accepted["sid"])
    assert sum(1 for r in twilio_standin.requests if r.method == "POST") == 1
    assert [o for _, o, _ in attempts_of(db, sms_id)] == ["maybe_sent", "adopted"]
    assert not message(db, sms_id).needs_reconcile


def test_text_refused_before_connecting_is_a_plain_retry(
    ready_app: Callable[..., Flask],
    twilio_standin: TwilioStandin,
) -> None:
    # A connection never made proves nothing reached Twilio: no look-up is owed before the retry.
    app = ready_app(**twilio_standin.env())
    db = database(app)
    _, sms_id = first_text(app)
    twilio_standin.stop()

    refused = deliver(app, sms_id)

    assert (refused.status, refused.detail) == (MessageStatus.PLANNED, "connection")
    assert not message(db, sms_id).needs_reconcile
    assert attempts_of(db, sms_id) == [(1, "transient", "connection")]


def test_email_resent_after_a_crash_carries_the_same_message_id(
    ready_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = ready_app(SMTP_URL=smtp_server.url, SMTP_TIMEOUT="2")
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    email_id = find(app, lead_id, "first", "email").id
    crash_after_the_provider_answered(app, email_id)
    time_passes(app, email_id)
    claim_due(app)

    outcome = deliver(app, email_id)

    first, again = smtp_server.wait_for(2)
    expected = f"<intake-message-{email_id}@sunrise.example>"
    assert first.message["Message-ID"] == again.message["Message-ID"] == expected
    assert (outcome.status, outcome.detail) == (MessageStatus.SENT, expected)
    assert message(db, email_id).provider_id == expected
    assert [o for _, o, _ in attempts_of(db, email_id)] == ["abandoned", "sent"]


# --- the scheduler and live sends ----------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.97])
def test_claim_due_never_takes_a_send_younger_than_stale_after(
    ready_app: Callable[..., Flask], fraction: float
) -> None:
    app = ready_app(DELIVERY_STALE_AFTER="60")
    db = database(app)
    _, sms_id = first_text(app)
    crash_after_the_provider_answered(app, sms_id)
    time_passes(app, sms_id, 60 * fraction)

    assert claim_due(app) == []

    still = message(db, sms_id)
    assert (still.status, still.needs_reconcile) == (MessageStatus.SENDING, False)
    assert attempts_of(db, sms_id) == [(1, None, None)]
    time_passes(app, sms_id, 61)
    assert claim_due(app) == [sms_id]


def test_a_second_worker_given_a_message_mid_send_leaves_it_alone(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    db = database(app)
    _, sms_id = first_text(app)
    second: list[delivery.Outcome] = []

    def second_worker_arrives(_: OutgoingMessage) -> None:
        second.append(deliver(app, sms_id))

    with intercepted(db, before=second_worker_arrives) as sends:
        first = deliver(app, sms_id)

    assert [o.status for o in second] == ["skipped"]
    assert first.status == MessageStatus.SENT
    assert len(sends.sent) == 1
    assert message(db, sms_id).attempts == 1


# --- a worker that wakes up after being taken over -----------------------------------------


def snapshot(db: Database, message_id: int) -> tuple[Any, ...]:
    row = message(db, message_id)
    return (
        row.status,
        row.provider_id,
        row.attempts,
        row.last_error,
        row.sent_at,
        row.failed_at,
        row.due_at,
        row.needs_reconcile,
    )


LATE_ANSWERS = {
    "accepted": None,
    "timeout": TransientError("timeout"),
    "invalid_number": PermanentError("invalid_number"),
}


@pytest.mark.parametrize("late_answer", list(LATE_ANSWERS))
def test_a_worker_taken_over_mid_send_cannot_overwrite_the_newer_outcome(
    ready_app: Callable[..., Flask], twilio_standin: TwilioStandin, late_answer: str
) -> None:
    app = ready_app(**twilio_standin.env())
    db = database(app)
    lead_id, sms_id = first_text(app)
    after_takeover: dict[str, Any] = {}

    def stall_past_stale_after(_: OutgoingMessage) -> None:
        # Worker A's text is at Twilio, but A stalls until the scheduler gives it up: worker B
        # finds the text at Twilio and adopts it. Then A's answer arrives, late.
        time_passes(app, sms_id)
        claim_due(app)
        assert deliver(app, sms_id).status == MessageStatus.SENT
        after_takeover.update(row=snapshot(db, sms_id), attempts=attempts_of(db, sms_id))
        error = LATE_ANSWERS[late_answer]
        if error is not None:
            raise error

    with intercepted(db, after=stall_past_stale_after):
        late = deliver(app, sms_id)

    assert late == TAKEN_OVER
    assert snapshot(db, sms_id) == after_takeover["row"]
    assert attempts_of(db, sms_id) == after_takeover["attempts"]
    assert [o for _, o, _ in attempts_of(db, sms_id)] == ["abandoned", "adopted"]
    lead = lead_row(db, lead_id)
    assert (lead.phone_status, lead.sequence_stopped_at) == (None, None)
    assert sum(1 for r in twilio_standin.requests if r.method == "POST") == 1


@pytest.mark.parametrize("late_answer", ["timeout", "invalid_number"])
def test_a_late_failure_cannot_touch_a_send_another_worker_holds(
    ready_app: Callable[..., Flask], twilio_standin: TwilioStandin, late_answer: str
) -> None:
    app = ready_app(**twilio_standin.env())
    db = database(app)
    lead_id, sms_id = first_text(app)
    a_stalled, a_may_answer = threading.Event(), threading.Event()
    a_outcome: list[delivery.Outcome] = []
    holding: dict[str, Any] = {}

    def worker_a_stalls_before_twilio(_: OutgoingMessage) -> None:
        a_stalled.set()
        assert a_may_answer.wait(10)
        error = LATE_ANSWERS[late_answer]
        assert error is not None
        raise error

    def worker_b_about_to_send(_: OutgoingMessage) -> None:
        # B holds attempt 2 and is about to talk to Twilio when A's failure comes back.
        holding["before"] = snapshot(db, sms_id)
        a_may_answer.set()
        worker_a.join(10)
        holding["after"] = snapshot(db, sms_id)

    hooks = iter([worker_a_stalls_before_twilio, worker_b_about_to_send])
    with intercepted(db, before=lambda m: next(hooks)(m), times=2) as sends:
        worker_a = threading.Thread(target=lambda: a_outcome.append(deliver(app, sms_id)))
        worker_a.start()
        assert a_stalled.wait(10)
        time_passes(app, sms_id)
        claim_due(app)
        b_outcome = deliver(app, sms_id)

    assert a_outcome == [TAKEN_OVER]
    assert holding["after"] == holding["before"]
    assert b_outcome.status == MessageStatus.SENT
    assert sends.sent == [b_outcome.detail]
    assert [o for _, o, _ in attempts_of(db, sms_id)] == ["abandoned", "sent"]
    assert lead_row(db, lead_id).phone_status is None


# --- what changed while the worker was dead ------------------------------------------------


def test_text_sent_before_the_sequence_stopped_is_adopted_not_cancelled(texting: Sink) -> None:
    # The patient got the text, the worker died, then staff marked the lead contacted: the
    # ledger must say the text went out, not that it was cancelled.
    app, db = texting.app, database(texting.app)
    lead_id, sms_id = first_text(app)
    crash_after_the_provider_answered(app, sms_id)
    with db.transaction() as session:
        leads.set_status(session, lead_id, "contacted", utcnow())
    time_passes(app, sms_id)
    claim_due(app)

    outcome = deliver(app, sms_id)

    assert outcome.status == MessageStatus.SENT
    assert texting.create_requests() == 1


def test_lost_send_not_at_the_provider_is_cancelled_once_the_sequence_stopped(
    texting: Sink,
) -> None:
    app, db = texting.app, database(texting.app)
    lead_id, sms_id = first_text(app)
    # The worker died after rendering, before the provider call.
    set_columns(db, sms_id, status=MessageStatus.SENDING, attempts=1, body_text="never sent")
    with db.transaction() as session:
        leads.set_status(session, lead_id, "contacted", utcnow())
    time_passes(app, sms_id)
    claim_due(app)

    outcome = deliver(app, sms_id)

    assert outcome.status == MessageStatus.CANCELLED
    assert texting.create_requests() == 0


def test_adopted_text_keeps_the_body_that_went_out_not_a_new_rendering(texting: Sink) -> None:
    app, db = texting.app, database(texting.app)
    _, sms_id = first_text(app)
    crash_after_the_provider_answered(app, sms_id)
    sent_body = message(db, sms_id).body_text
    sent_version = message(db, sms_id).template_version_id
    # An admin changes the template while the worker is dead.
    with db.transaction() as session:
        save_version(
            session,
            "patient_first_reply",
            "sms",
            TemplateSource(None, "Changed text", None),
            "admin",
        )
    time_passes(app, sms_id)
    claim_due(app)

    assert deliver(app, sms_id).status == MessageStatus.SENT

    adopted = message(db, sms_id)
    assert (adopted.body_text, adopted.template_version_id) == (sent_body, sent_version)
