"""A whole conversation through the Flask test client and the worker's own functions: the form,
the first text, a reply naming a time, STOP, START and HELP; and what each keyword does to
every lead that gave the number."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from intake_service.db import utcnow
from intake_service.domain.compliance import consent
from intake_service.domain.compliance.consent import has_consent
from intake_service.domain.compliance.opt_outs import number_opted_out
from intake_service.domain.compliance.policy import Purpose, can_contact
from intake_service.domain.leads import replies
from intake_service.domain.outreach import processing
from intake_service.models import CallbackRequest, InboundMessage, Lead, Message, MessageStatus
from tests.domain.builders import (
    database,
    find,
    lead_row,
    make_due_now,
    message,
    settings_of,
)
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin
from tests.support.twilio_webhooks import lead_messages, run_worker, text_in

PHONE = "+12133734253"
PENDING = (MessageStatus.PLANNED, MessageStatus.QUEUED)


def submit_form(app: Flask, email: str = "jane.doe@patients.example") -> uuid.UUID:
    """The patient sends the contact form, SMS box ticked; returns the new lead's id."""
    response = app.test_client().post(
        "/contact",
        data={
            "first_name": "Jane",
            "last_name": "Doe",
            "email": email,
            "phone": "(213) 373-4253",
            "treatment_interest": "tms",
            "callback_window": "any",
            "sms_consent": "y",
            "sms_wording_version": consent.CURRENT_SMS_WORDING,
            "submission_token": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    with database(app).session() as session:
        lead_id = session.scalars(
            sa.select(Lead.id).where(Lead.email == email).order_by(Lead.created_at.desc())
        ).first()
    assert lead_id is not None
    return lead_id


def worker_takes(app: Flask, lead_id: uuid.UUID) -> None:
    """The worker processes the new lead and delivers what is due."""
    processing.process_lead(database(app), settings_of(app), lead_id)
    run_worker(app)


def pending_texts(app: Flask, lead_id: uuid.UUID) -> list[Message]:
    return [
        m
        for m in lead_messages(app, lead_id)
        if m.channel == "sms" and m.audience == "patient" and m.status in PENDING
    ]


def test_a_conversation_submit_text_reply_evening_stop_start_help(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = sms_app()
    db = database(app)

    # 1. The form, then the worker: the team email, the patient's email and text go out.
    lead_id = submit_form(app)
    worker_takes(app, lead_id)
    (first,) = twilio_standin.messages
    assert first["to"] == PHONE
    assert first["body"].startswith("Hi Jane, Sunrise Clinic here.")
    assert pending_texts(app, lead_id), "the day-1 text is planned"

    # 2. Jane answers "evening": a callback request, the drip stopped, the team told at once.
    answer = text_in(app, "evening", PHONE)
    assert answer.status_code == 200
    assert "<Message>" not in answer.get_data(as_text=True)  # a person answers, not a bot
    with db.session() as session:
        (callback,) = session.scalars(sa.select(CallbackRequest)).all()
        assert (callback.lead_id, callback.origin, callback.window) == (
            lead_id,
            "patient",
            "evening",
        )
        assert callback.due_at is not None
    lead = lead_row(db, lead_id)
    assert (lead.sequence_stop_reason, lead.sequence_stopped_at is not None) == (
        "callback_requested",
        True,
    )
    assert pending_texts(app, lead_id) == []
    assert find(app, lead_id, "day1", "sms").status == MessageStatus.CANCELLED
    mails_before = len(smtp_server.messages)
    run_worker(app)
    (team_mail,) = smtp_server.messages[mails_before:]
    assert team_mail.rcpt_tos == ("team@sunrise.example",)
    assert team_mail.message["Subject"].startswith("A patient replied and asked for a call (ref ")
    assert "Jane" not in team_mail.message["Subject"]  # no name on a lock screen
    assert "asked to be called" in team_mail.message.get_body(("plain",)).get_content()

    # 3. A second form from the same number (a new inquiry): its drip is planned.
    second = submit_form(app, email="jane.other@patients.example")
    worker_takes(app, second)
    texts_sent = len(twilio_standin.messages)
    assert pending_texts(app, second)

    # 4. STOP: every planned text of every lead with the number cancelled; one confirmation.
    answer = text_in(app, "STOP", PHONE).get_data(as_text=True)
    assert "you are unsubscribed" in answer and "START" in answer
    assert pending_texts(app, lead_id) == pending_texts(app, second) == []
    assert find(app, second, "day1", "sms").status == MessageStatus.CANCELLED
    assert find(app, second, "day3", "email").status in PENDING  # email goes on
    with db.session() as session:
        assert not has_consent(session, lead_id, "sms")
        assert not has_consent(session, second, "sms")
        assert has_consent(session, second, "email")
        stop_id = session.scalars(
            sa.select(InboundMessage.id).where(InboundMessage.keyword == "STOP")
        ).one()
        history = consent.history(session, second)
    assert (history[-1].action, history[-1].source, history[-1].inbound_message_id) == (
        "opt_out",
        "sms_keyword",
        stop_id,
    )
    # Nothing is texted after STOP, even a text that comes due, even for a new lead.
    third = submit_form(app, email="jane.third@patients.example")
    worker_takes(app, third)
    run_worker(app)
    assert len(twilio_standin.messages) == texts_sent
    assert [m for m in lead_messages(app, third) if m.channel == "sms"] == []  # not even planned

    # 5. START: subscribed again, confirmed once.
    answer = text_in(app, "START", PHONE).get_data(as_text=True)
    assert "again" in answer
    with db.session() as session:
        assert has_consent(session, lead_id, "sms")
        assert not number_opted_out(session, PHONE)

    # 6. HELP: the clinic, its phone, and how to stop.
    answer = text_in(app, "HELP", PHONE).get_data(as_text=True)
    assert "Sunrise Clinic" in answer and "(310) 555-0100" in answer and "STOP" in answer

    # Every text Jane sent is on the newest lead's timeline, in order.
    with db.session() as session:
        on_timeline = [r.body for r in replies.for_lead(session, third)]
        first_lead = [r.body for r in replies.for_lead(session, lead_id)]
    assert first_lead == ["evening"]
    assert on_timeline == ["START", "HELP"]


def test_the_team_email_about_a_reply_never_carries_the_reply(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = sms_app()
    lead_id = submit_form(app)
    worker_takes(app, lead_id)
    marker = "my-private-words-7f3a"

    text_in(app, f"I'm scared about the side effects {marker}", PHONE)
    before = len(smtp_server.messages)
    run_worker(app)

    (mail,) = smtp_server.messages[before:]
    assert marker not in mail.message.as_string()
    assert mail.message["Subject"].startswith("A patient replied (ref ")
    lead = lead_row(database(app), lead_id)
    assert lead.sequence_stop_reason == "replied"
    with database(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CallbackRequest)) == 0


def test_a_second_reply_moves_the_one_callback_owed(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    lead_id = submit_form(app)
    worker_takes(app, lead_id)

    text_in(app, "morning", PHONE)
    text_in(app, "actually after 5pm is better", PHONE)

    with database(app).session() as session:
        (callback,) = session.scalars(sa.select(CallbackRequest)).all()
    assert callback.window == "evening"
    team = [m for m in lead_messages(app, lead_id) if m.template_key == "team_patient_replied"]
    assert len(team) == 2  # the team hears about each reply


def test_yes_from_a_subscribed_number_is_a_reply_and_from_an_opted_out_one_resubscribes(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    lead_id = submit_form(app)
    worker_takes(app, lead_id)

    reply = text_in(app, "Yes", PHONE).get_data(as_text=True)
    assert "<Message>" not in reply
    assert lead_row(database(app), lead_id).sequence_stop_reason == "replied"

    text_in(app, "STOP", PHONE)
    answer = text_in(app, "yes", PHONE).get_data(as_text=True)
    assert "again" in answer
    with database(app).session() as session:
        assert has_consent(session, lead_id, "sms")
        kinds = session.scalars(sa.select(InboundMessage.kind).order_by(InboundMessage.id)).all()
    assert kinds == ["reply", "opt_out", "opt_in"]


def test_after_start_new_texts_go_but_those_cancelled_by_stop_stay_cancelled(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    lead_id = submit_form(app)
    worker_takes(app, lead_id)
    day1 = find(app, lead_id, "day1", "sms")

    text_in(app, "STOP", PHONE)
    text_in(app, "START", PHONE)
    make_due_now(database(app), day1.id)
    run_worker(app)

    assert message(database(app), day1.id).status == MessageStatus.CANCELLED
    again = submit_form(app, email="jane.again@patients.example")
    worker_takes(app, again)
    assert find(app, again, "first", "sms").status == MessageStatus.SENT


def test_twilio_21610_blocks_the_number_for_every_lead_until_start(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    # Twilio refuses texts to a number that sent STOP to it directly (21610): never retried,
    # recorded as an opt-out, and the number is blocked here too, for new leads as well.
    app = sms_app()
    twilio_standin.error_next(21610)
    lead_id = submit_form(app)
    worker_takes(app, lead_id)
    assert find(app, lead_id, "first", "sms").last_error == "opted_out"
    with database(app).session() as session:
        assert number_opted_out(session, PHONE)

    later = submit_form(app, email="jane.later@patients.example")
    worker_takes(app, later)
    assert [m for m in lead_messages(app, later) if m.channel == "sms"] == []  # not even planned
    assert twilio_standin.messages == []

    text_in(app, "START", PHONE)
    assert lead_row(database(app), lead_id).phone_status is None
    newest = submit_form(app, email="jane.newest@patients.example")
    worker_takes(app, newest)
    assert find(app, newest, "first", "sms").status == MessageStatus.SENT


def test_the_contact_policy_refuses_texts_to_a_number_that_texted_stop(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    # Checked again at send time: a text planned before the STOP is refused by the policy.
    app = sms_app()
    lead_id = submit_form(app)
    worker_takes(app, lead_id)
    db = database(app)
    with db.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert can_contact(session, lead, "sms", Purpose.FOLLOW_UP, utcnow()).allowed

    text_in(app, "STOP", PHONE)

    with db.session() as session:
        lead = session.get_one(Lead, lead_id)
        refused = can_contact(session, lead, "sms", Purpose.CRISIS, utcnow())
        assert (refused.allowed, refused.not_before) == (False, None)
        assert can_contact(session, lead, "email", Purpose.FOLLOW_UP, utcnow()).allowed
