"""Delivery status from Twilio's callbacks: accepted is only `sent`, a report says delivered;
undelivered texts fall back to email and mark numbers that cannot take texts; a report that
beats the SID's record is kept and applied when the SID lands."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.channels.segments import count_segments
from intake_service.domain.outreach import status_callbacks
from intake_service.models import Message, MessageStatus, PendingStatus
from tests.domain.builders import (
    PATIENT_EMAIL,
    database,
    find,
    lead_row,
    make_due_now,
    message,
    process,
    settings_of,
    submit,
)
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin
from tests.support.twilio_webhooks import PUBLIC, STATUS_PATH, lead_messages, report, run_worker


def first_text_sent(app: Flask, standin: TwilioStandin) -> tuple[uuid.UUID, Message, str]:
    """Submit, process and deliver first contact; the text's row and its Twilio SID."""
    lead_id = submit(app)
    process(app, lead_id)
    run_worker(app)
    text = find(app, lead_id, "first", "sms")
    assert text.status == MessageStatus.SENT
    (sent,) = standin.messages
    assert text.provider_id == sent["sid"]
    return lead_id, text, sent["sid"]


def pending_count(app: Flask) -> int:
    with database(app).session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(PendingStatus)) or 0)


def test_texts_carry_the_public_status_callback_and_their_billed_length(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    _, text, _ = first_text_sent(app, twilio_standin)

    (sent,) = twilio_standin.messages
    assert sent["status_callback"] == PUBLIC + STATUS_PATH
    counted = count_segments(sent["body"])
    assert (text.segments, text.encoding) == (counted.segments, counted.encoding)
    assert text.segments == int(sent["num_segments"])


def test_acceptance_is_sent_and_only_a_delivery_report_makes_it_delivered(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    _, text, sid = first_text_sent(app, twilio_standin)
    assert (text.status, text.delivered_at) == (MessageStatus.SENT, None)

    for status in ("queued", "sent"):
        assert report(app, sid, status).status_code == 204
        assert message(database(app), text.id).status == MessageStatus.SENT
    report(app, sid, "delivered")

    delivered = message(database(app), text.id)
    assert delivered.status == MessageStatus.DELIVERED
    assert delivered.provider_status == "delivered"
    assert delivered.delivered_at is not None


def test_reports_out_of_order_never_move_a_message_backwards(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    _, text, sid = first_text_sent(app, twilio_standin)

    report(app, sid, "delivered")
    report(app, sid, "sent")
    report(app, sid, "queued")
    report(app, sid, "undelivered", 30003)

    after = message(database(app), text.id)
    assert (after.status, after.provider_status, after.error_code) == (
        MessageStatus.DELIVERED,
        "delivered",
        None,
    )


def day1_text_sent(app: Flask, standin: TwilioStandin) -> tuple[uuid.UUID, Message, str]:
    """A lead whose first contact went out and whose day-1 text has just been sent."""
    lead_id, _, _ = first_text_sent(app, standin)
    day1 = find(app, lead_id, "day1", "sms")
    make_due_now(database(app), day1.id)
    run_worker(app)
    day1 = message(database(app), day1.id)
    assert day1.status == MessageStatus.SENT
    return lead_id, day1, standin.messages[-1]["sid"]


def test_undelivered_30006_falls_back_to_email_and_marks_the_number(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = sms_app()
    lead_id, day1, sid = day1_text_sent(app, twilio_standin)
    mails_before = len(smtp_server.messages)

    assert report(app, sid, "undelivered", 30006).status_code == 204

    failed = message(database(app), day1.id)
    assert failed.status == MessageStatus.UNDELIVERED
    assert (failed.provider_status, failed.error_code) == ("undelivered", 30006)
    assert "landline" in (failed.last_error or "")
    assert lead_row(database(app), lead_id).phone_status == "landline"
    # The day-1 check-in goes by email instead, at once.
    fallback = find(app, lead_id, "day1", "email")
    assert fallback.recipient == PATIENT_EMAIL
    run_worker(app)
    assert message(database(app), fallback.id).status == MessageStatus.SENT
    (mail,) = smtp_server.messages[mails_before:]
    assert mail.rcpt_tos == (PATIENT_EMAIL,)


def test_a_marked_number_gets_no_more_texts_and_its_later_steps_go_by_email(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    lead_id, _, sid = first_text_sent(app, twilio_standin)
    report(app, sid, "undelivered", 30006)
    assert lead_row(database(app), lead_id).phone_status == "landline"

    day1 = find(app, lead_id, "day1", "sms")
    make_due_now(database(app), day1.id)
    run_worker(app)

    assert len(twilio_standin.messages) == 1  # nothing more to the landline
    assert message(database(app), day1.id).status == MessageStatus.SUPPRESSED
    run_worker(app)  # the fallback planned by the suppression
    assert find(app, lead_id, "day1", "email").status == MessageStatus.SENT


def test_undelivered_first_text_does_not_email_the_patient_twice(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = sms_app()
    lead_id, _, sid = first_text_sent(app, twilio_standin)
    mails = len(smtp_server.messages)

    report(app, sid, "undelivered", 30005)
    run_worker(app)

    assert lead_row(database(app), lead_id).phone_status == "unknown_number"
    assert len(smtp_server.messages) == mails  # the first reply already went by email
    assert [m.template_key for m in lead_messages(app, lead_id)].count("team_unreachable") == 0


@pytest.mark.parametrize("code", [30003, 30007, 30008])
def test_undelivered_for_a_reason_about_this_attempt_falls_back_but_keeps_the_number(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, code: int
) -> None:
    # 30003: the handset was off; 30007: the carrier filtered our content; 30008: no reason.
    # None says the number is bad, so later texts still try it.
    app = sms_app()
    lead_id, day1, sid = day1_text_sent(app, twilio_standin)

    report(app, sid, "undelivered", code)

    assert message(database(app), day1.id).status == MessageStatus.UNDELIVERED
    assert lead_row(database(app), lead_id).phone_status is None
    assert find(app, lead_id, "day1", "email").status in (
        MessageStatus.PLANNED,
        MessageStatus.QUEUED,
    )


@pytest.mark.parametrize(("code", "mark"), [(30004, "blocked"), (30005, "unknown_number")])
def test_failed_for_a_reason_about_the_number_marks_it(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, code: int, mark: str
) -> None:
    app = sms_app()
    lead_id, day1, sid = day1_text_sent(app, twilio_standin)

    report(app, sid, "failed", code)

    assert message(database(app), day1.id).status == MessageStatus.FAILED
    assert lead_row(database(app), lead_id).phone_status == mark


def test_a_report_that_arrives_before_the_sid_is_stored_is_applied_when_it_lands(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    lead_id = submit(app)
    process(app, lead_id)
    seen: list[tuple[int, int]] = []

    def twilio_reports_at_once(resource: dict[str, Any]) -> None:
        # Twilio has the text; the worker has not read the SID yet.
        seen.append((report(app, resource["sid"], "sent").status_code, pending_count(app)))
        seen.append((report(app, resource["sid"], "delivered").status_code, pending_count(app)))

    twilio_standin.on_create = twilio_reports_at_once
    run_worker(app)

    assert seen == [(204, 1), (204, 2)]  # both kept, none lost
    text = find(app, lead_id, "first", "sms")
    assert (text.status, text.provider_status) == (MessageStatus.DELIVERED, "delivered")
    assert pending_count(app) == 0


def test_an_early_undelivered_report_still_falls_back_when_the_sid_lands(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    lead_id, _, _ = first_text_sent(app, twilio_standin)
    day1 = find(app, lead_id, "day1", "sms")
    make_due_now(database(app), day1.id)
    twilio_standin.on_create = lambda resource: report(app, resource["sid"], "undelivered", 30006)

    run_worker(app)

    assert message(database(app), day1.id).status == MessageStatus.UNDELIVERED
    assert lead_row(database(app), lead_id).phone_status == "landline"
    assert find(app, lead_id, "day1", "email").recipient == PATIENT_EMAIL


def test_the_sweep_applies_a_report_the_hook_missed_and_drops_ones_that_never_match(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    db, settings = database(app), settings_of(app)
    _, text, _ = first_text_sent(app, twilio_standin)
    # A report stored while the worker was committing the SID: the hook could not see it.
    with db.transaction() as session:
        session.add(PendingStatus(provider_id=text.provider_id, status="delivered"))
        session.add(
            PendingStatus(
                provider_id="SMnever",
                status="delivered",
                received_at=status_callbacks.utcnow() - status_callbacks.PENDING_KEPT * 2,
            )
        )

    assert status_callbacks.sweep_pending(db, settings) == 1

    assert message(db, text.id).status == MessageStatus.DELIVERED
    assert pending_count(app) == 0


def test_a_report_naming_an_emails_message_id_is_refused_and_changes_nothing(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    # Status callbacks are Twilio's: an id that is not a SID (an email's Message-ID) is a 400.
    app = sms_app()
    lead_id, _, _ = first_text_sent(app, twilio_standin)
    email = find(app, lead_id, "first", "email")
    assert email.provider_id is not None and email.provider_id.startswith("<")

    response = report(app, email.provider_id, "undelivered", 30006)

    assert response.status_code == 400
    assert message(database(app), email.id).status == MessageStatus.SENT
    assert lead_row(database(app), lead_id).phone_status is None
    assert pending_count(app) == 0
