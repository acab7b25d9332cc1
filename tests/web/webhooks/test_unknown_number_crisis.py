"""A crisis text from a number no lead gave pages on-call and the team as an urgent lead's reply
does, with none of its words in any page, and answers the sender with 988 and 911 unless the
number texted STOP; staff read it, and take it, on the staff app's page of the text."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake_service.db import utcnow
from intake_service.domain.outreach import urgent
from intake_service.models import AuditEvent, InboundMessage, Message, UrgentPage
from tests.domain.builders import PATIENT_PHONE, database, process, settings_of, submit
from tests.support import factories
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin
from tests.support.twilio_webhooks import (
    PUBLIC,
    inbound_params,
    post_signed,
    report,
    run_worker,
    text_in,
)

STRANGER = "+14155550123"
ON_CALL = "+13105550199"
ON_CALL_EMAIL = "oncall@sunrise.example"
TEAM = "team@sunrise.example"
# Crisis words, and a marker no page may ever carry.
CRISIS = "i want to end my life tonight ZEBRA-7731"
WORDS = ("end my life", "ZEBRA-7731", "tonight")
PAGE_SMS = re.compile(
    r"^Urgent: a text that may need a crisis response came from an unknown number, open "
    + re.escape(PUBLIC)
    + r"/staff/texts/(\d+) - Sunrise Clinic$"
)


def paging_app(sms_app: Callable[..., Flask], **overrides: str) -> Flask:
    return sms_app(
        ON_CALL_PHONE=ON_CALL, ON_CALL_EMAIL=ON_CALL_EMAIL, TEAM_EMAILS=TEAM, **overrides
    )


def the_text(app: Flask) -> InboundMessage:
    with database(app).session() as session:
        return session.scalars(sa.select(InboundMessage)).one()


def pages(app: Flask) -> list[Message]:
    with database(app).session() as session:
        return list(
            session.scalars(
                sa.select(Message)
                .where(Message.template_key == "team_text_urgent_page")
                .order_by(Message.id)
            )
        )


def page_rows(app: Flask) -> list[UrgentPage]:
    with database(app).session() as session:
        return list(session.scalars(sa.select(UrgentPage).order_by(UrgentPage.round)))


def assert_no_words(twilio_standin: TwilioStandin, smtp_server: SmtpServer) -> None:
    """Nothing the service sent, to anyone, carries what the person wrote."""
    for sms in twilio_standin.messages:
        assert not [w for w in WORDS if w in sms["body"]], sms["body"]
    for mail in smtp_server.messages:
        whole = mail.message.as_string()
        assert not [w for w in WORDS if w in whole], mail.message["Subject"]
        assert "555-0123" not in mail.message["Subject"]


def signed_in(app: Flask, email: str = "coord@sunrise.example") -> FlaskClient:
    with database(app).transaction() as session:
        factories.user(session, "coordinator", email=email)
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": factories.STAFF_PASSWORD})
    assert response.status_code == 303
    return client


def test_a_crisis_text_from_an_unknown_number_pages_on_call_and_the_team_once_without_its_words(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = paging_app(sms_app)

    answer = text_in(app, CRISIS, STRANGER).get_data(as_text=True)

    # The sender's crisis answer, once, in the webhook's own reply (TwiML).
    assert answer.count("<Message>") == 1
    assert "911" in answer and "988" in answer
    text = the_text(app)
    assert (text.kind, text.lead_id, text.auto_reply) == ("crisis", None, "crisis")
    assert [(m.channel, m.recipient, m.step_key) for m in pages(app)] == [
        ("sms", ON_CALL, "page1"),
        ("email", ON_CALL_EMAIL, "page1"),
        ("email", TEAM, "page1"),
    ]
    assert [(p.round, p.done_at) for p in page_rows(app)] == [(2, None)]

    run_worker(app)

    (page,) = twilio_standin.messages  # no text of ours to the sender: TwiML carried it
    assert page["to"] == ON_CALL
    assert PAGE_SMS.match(page["body"]) and PAGE_SMS.match(page["body"])[1] == str(text.id)
    mails = {mail.rcpt_tos: mail.message for mail in smtp_server.messages}
    assert set(mails) == {(ON_CALL_EMAIL,), (TEAM,)}
    for mail in mails.values():
        assert mail["Subject"] == (
            f"URGENT: a crisis response may be needed (unknown number, text {text.id})"
        )
        body = mail.get_body(("plain",)).get_content()
        assert f"{PUBLIC}/staff/texts/{text.id}" in body and "(415) 555-0123" in body
    assert_no_words(twilio_standin, smtp_server)
    assert all(m.status == "sent" for m in pages(app))


def test_a_text_without_crisis_words_from_an_unknown_number_pages_nobody(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = paging_app(sms_app)

    answer = text_in(app, "hi, wrong number? who is this", STRANGER).get_data(as_text=True)

    assert "<Message>" not in answer
    assert the_text(app).kind == "reply"
    assert pages(app) == [] and page_rows(app) == []
    run_worker(app)
    assert twilio_standin.messages == [] and smtp_server.messages == []


def test_the_same_message_sid_twice_pages_once_and_answers_once(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = paging_app(sms_app)
    params = inbound_params(app, CRISIS, STRANGER)

    first = post_signed(app, "/webhooks/twilio/sms", params).get_data(as_text=True)
    again = post_signed(app, "/webhooks/twilio/sms", params).get_data(as_text=True)
    run_worker(app)

    assert "988" in first and "<Message>" not in again
    assert len(pages(app)) == 3 and len(page_rows(app)) == 1
    assert [m["to"] for m in twilio_standin.messages] == [ON_CALL]
    assert len(smtp_server.messages) == 2


def test_a_number_that_texted_stop_is_not_answered_but_on_call_is_still_paged(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = paging_app(sms_app)
    text_in(app, "STOP", STRANGER)

    answer = text_in(app, CRISIS, STRANGER).get_data(as_text=True)

    assert "<Message>" not in answer  # their STOP stands: no text goes back to them
    with database(app).session() as session:
        crisis = session.scalars(
            sa.select(InboundMessage).where(InboundMessage.kind == "crisis")
        ).one()
    assert crisis.auto_reply is None
    run_worker(app)
    assert [m["to"] for m in twilio_standin.messages] == [ON_CALL]
    assert len(smtp_server.messages) == 2
    assert_no_words(twilio_standin, smtp_server)


def test_a_lead_that_texted_stop_gets_no_crisis_answer_either(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = paging_app(sms_app)
    lead_id = submit(app)
    process(app, lead_id)
    run_worker(app)
    text_in(app, "STOP", PATIENT_PHONE)

    answer = text_in(app, CRISIS, PATIENT_PHONE).get_data(as_text=True)

    assert "<Message>" not in answer
    run_worker(app)
    assert PATIENT_PHONE not in [m["to"] for m in twilio_standin.messages[1:]]
    assert ON_CALL in [m["to"] for m in twilio_standin.messages]  # the lead's page went


def test_pages_repeat_to_everyone_until_a_person_takes_the_text_on_its_staff_page(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = paging_app(sms_app, URGENT_REPAGE_MINUTES="10")
    db, settings = database(app), settings_of(app)
    text_in(app, CRISIS, STRANGER)
    text = the_text(app)
    run_worker(app)

    assert urgent.sweep(db, settings, utcnow() + dt.timedelta(minutes=5)) == 0
    assert urgent.sweep(db, settings, utcnow() + dt.timedelta(minutes=11)) == 1
    run_worker(app)
    assert [m["to"] for m in twilio_standin.messages] == [ON_CALL, ON_CALL]
    assert [m.step_key for m in pages(app)].count("page2") == 3

    client = signed_in(app)
    page = client.get(f"/staff/texts/{text.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "end my life tonight ZEBRA-7731" in html and "I am taking this" in html
    taken = client.post(f"/staff/texts/{text.id}/acknowledge")
    assert taken.status_code == 303

    assert urgent.sweep(db, settings, utcnow() + dt.timedelta(minutes=60)) == 0
    run_worker(app)
    assert len(twilio_standin.messages) == 2  # nobody paged after the text was taken
    assert [(p.round, p.outcome) for p in page_rows(app)] == [
        (2, "paged"),
        (3, "acknowledged"),
    ]
    again = client.get(f"/staff/texts/{text.id}").get_data(as_text=True)
    assert "taken by coord@sunrise.example" in again and "I am taking this" not in again
    with db.session() as session:
        kinds = list(session.scalars(sa.select(AuditEvent.kind).order_by(AuditEvent.id)))
        details = [e.detail for e in session.scalars(sa.select(AuditEvent))]
    assert kinds.count("text.acknowledged") == 1 and "text.viewed" in kinds
    assert not [d for d in details if "ZEBRA" in str(d)]  # ids only on the trail
    assert_no_words(twilio_standin, smtp_server)


def test_the_texts_list_links_each_text_and_marks_crisis_ones_not_taken(
    sms_app: Callable[..., Flask],
) -> None:
    app = paging_app(sms_app)
    text_in(app, CRISIS, STRANGER)
    text_in(app, "is this the ketamine clinic?", "+14155550188")
    crisis_id = the_first_crisis_id(app)
    client = signed_in(app)

    html = client.get("/staff/texts").get_data(as_text=True)

    assert f'href="/staff/texts/{crisis_id}"' in html
    assert "crisis words, not taken" in html
    assert "is this the ketamine clinic?" in html


def the_first_crisis_id(app: Flask) -> int:
    with database(app).session() as session:
        found = session.scalar(sa.select(InboundMessage.id).where(InboundMessage.kind == "crisis"))
    assert found is not None
    return found


def test_a_texts_page_and_taking_a_text_need_a_signed_in_person(
    sms_app: Callable[..., Flask],
) -> None:
    app = paging_app(sms_app)
    text_in(app, CRISIS, STRANGER)
    text = the_text(app)
    anonymous = app.test_client()

    for response in (
        anonymous.get("/staff/texts"),
        anonymous.get(f"/staff/texts/{text.id}"),
        anonymous.post(f"/staff/texts/{text.id}/acknowledge"),
    ):
        assert response.status_code in (302, 303)
        assert "/login" in response.headers["Location"]
        assert "ZEBRA" not in response.get_data(as_text=True)
    assert the_text(app).acknowledged_at is None
    assert len(page_rows(app)) == 1


def test_a_lead_s_text_has_no_page_among_the_unknown_ones(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = paging_app(sms_app)
    lead_id = submit(app)
    process(app, lead_id)
    text_in(app, "evening works", PATIENT_PHONE)
    client = signed_in(app)

    assert client.get(f"/staff/texts/{the_text(app).id}").status_code == 404
    assert client.get("/staff/texts/999999").status_code == 404


def test_a_page_that_fails_is_a_dead_letter_an_admin_opens_and_retries(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = paging_app(sms_app)
    text_in(app, CRISIS, STRANGER)
    text = the_text(app)
    twilio_standin.error_next(21211)  # the on-call number, mistyped in the settings

    run_worker(app)

    (failed,) = [m for m in pages(app) if m.status == "failed"]
    assert failed.channel == "sms"
    assert len(smtp_server.messages) == 2  # the round's emails went all the same
    with database(app).transaction() as session:
        factories.user(session, "admin", email="admin@sunrise.example")
    client = app.test_client()
    client.post(
        "/login", data={"email": "admin@sunrise.example", "password": factories.STAFF_PASSWORD}
    )
    listing = client.get("/admin/messages/failed").get_data(as_text=True)
    assert f'href="/staff/texts/{text.id}"' in listing
    detail = client.get(f"/admin/messages/failed/{failed.id}")
    assert detail.status_code == 200 and "text from an unknown number" in detail.get_data(True)
    assert client.post(f"/admin/messages/failed/{failed.id}/retry").status_code == 303
    run_worker(app)
    assert [m["to"] for m in twilio_standin.messages] == [ON_CALL]


def test_delivery_reports_for_a_page_apply_without_a_lead(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = paging_app(sms_app)
    text_in(app, CRISIS, STRANGER)
    run_worker(app)
    (sms_page,) = [m for m in pages(app) if m.channel == "sms"]

    assert report(app, str(sms_page.provider_id), "undelivered", 30003).status_code == 204

    (after,) = [m for m in pages(app) if m.channel == "sms"]
    assert (after.status, after.error_code) == ("undelivered", 30003)
