"""Replies reach a person: the lead's assignee (or the team) at once, the lead's timeline, the
staff page of texts from unknown numbers; crisis words in a reply take the urgent path."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from intake_service.db import utcnow
from intake_service.domain.leads import timeline
from intake_service.models import CallbackRequest, InboundMessage, Lead, Message, UrgentPage
from tests.domain.builders import PATIENT_PHONE, database, lead_row, process, submit
from tests.support import factories
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin
from tests.support.twilio_webhooks import lead_messages, run_worker, text_in

STRANGER = "+14155550123"
ON_CALL = "+13105550199"
CRISIS = "i cant do this anymore, goodbye everyone"


def started(app: Flask) -> uuid.UUID:
    lead_id = submit(app)
    process(app, lead_id)
    run_worker(app)
    return lead_id


def assign(app: Flask, lead_id: uuid.UUID, email: str) -> None:
    with database(app).transaction() as session:
        user = factories.user(session, "clinician", email=email)
        session.get_one(Lead, lead_id).assignee_id = user.id


def badge_for(app: Flask, email: str, since: dt.datetime) -> tuple[int, str]:
    """The in-app notification badge as `email` (a staff account) polls it."""
    client = app.test_client()
    signed_in = client.post("/login", data={"email": email, "password": factories.STAFF_PASSWORD})
    assert signed_in.status_code == 303
    html = client.get("/staff/notifications", query_string={"since": since.isoformat()}).text
    return int(re.search(r'data-total="(\d+)"', html)[1]), html  # type: ignore[index]


def notices(app: Flask, lead_id: uuid.UUID) -> list[Message]:
    return [m for m in lead_messages(app, lead_id) if m.template_key == "team_patient_replied"]


def test_a_reply_to_an_assigned_lead_goes_to_the_assignee_with_the_callback(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = sms_app()
    lead_id = started(app)
    assign(app, lead_id, "dr.lee@sunrise.example")

    text_in(app, "tomorrow afternoon please", PATIENT_PHONE)

    (notice,) = notices(app, lead_id)
    assert notice.recipient == "dr.lee@sunrise.example"
    with database(app).session() as session:
        (callback,) = session.scalars(sa.select(CallbackRequest)).all()
        assert callback.assignee_id == lead_row(database(app), lead_id).assignee_id
    before = len(smtp_server.messages)
    run_worker(app)
    (mail,) = smtp_server.messages[before:]
    assert mail.rcpt_tos == ("dr.lee@sunrise.example",)
    assert "asked to be called: " in mail.message.get_body(("plain",)).get_content()


def test_a_reply_to_an_unassigned_lead_goes_to_the_team(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app(TEAM_EMAILS="a@sunrise.example,b@sunrise.example")
    lead_id = started(app)

    text_in(app, "ok thanks", PATIENT_PHONE)

    assert sorted(m.recipient for m in notices(app, lead_id)) == [
        "a@sunrise.example",
        "b@sunrise.example",
    ]


def test_crisis_words_in_a_reply_page_on_call_and_answer_with_988_and_911(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, smtp_server: SmtpServer
) -> None:
    app = sms_app(ON_CALL_PHONE=ON_CALL)
    lead_id = started(app)

    answer = text_in(app, CRISIS, PATIENT_PHONE).get_data(as_text=True)

    assert "911" in answer and "988" in answer and "A clinician will call you soon" in answer
    lead = lead_row(database(app), lead_id)
    assert (lead.urgent, lead.priority, lead.sequence_stop_reason) == (True, "urgent", "urgent")
    with database(app).session() as session:
        inbound = session.scalars(sa.select(InboundMessage)).one()
        assert (inbound.kind, inbound.auto_reply) == ("crisis", "crisis")
        assert inbound.crisis_rule is not None
        assert session.scalar(sa.select(sa.func.count()).select_from(UrgentPage)) == 1
    pages = [m for m in lead_messages(app, lead_id) if m.step_key == "page1"]
    assert [(m.channel, m.recipient) for m in pages] == [("sms", ON_CALL)]
    run_worker(app)
    assert twilio_standin.messages[-1]["to"] == ON_CALL
    team = [m for m in smtp_server.messages if "team@sunrise.example" in m.rcpt_tos]
    assert team[-1].message["Subject"].startswith("URGENT: A patient replied")
    assert CRISIS not in team[-1].message.as_string()


def test_crisis_words_from_an_unknown_number_are_answered_and_kept_for_staff(
    sms_app: Callable[..., Flask],
) -> None:
    app = sms_app()

    answer = text_in(app, CRISIS, STRANGER).get_data(as_text=True)

    assert "911" in answer and "988" in answer
    assert "will call" not in answer  # on-call is paged, but a stranger is promised no call
    with database(app).session() as session:
        inbound = session.scalars(sa.select(InboundMessage)).one()
    assert (inbound.kind, inbound.lead_id) == ("crisis", None)


def test_replies_are_on_the_lead_timeline(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    lead_id = started(app)

    text_in(app, "evening works", PATIENT_PHONE)
    text_in(app, "HELP", PATIENT_PHONE)

    with database(app).session() as session:
        entries = timeline.timeline(session, lead_id, {"reply"}, newest_first=False)
    assert [(e.kind, e.text) for e in entries] == [("callback", "evening works"), ("help", "HELP")]
    assert entries[1].data["auto_reply"] == "help"


def test_staff_see_replies_on_the_lead_page_and_unknown_texts_on_their_own_page(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    lead_id = started(app)
    text_in(app, "evening works <b>bold</b>", PATIENT_PHONE)
    text_in(app, "who is this? <script>x()</script>", STRANGER)
    with database(app).transaction() as session:
        factories.user(session, "coordinator", email="coord@sunrise.example")
    client = app.test_client()
    assert (
        client.post(
            "/login",
            data={"email": "coord@sunrise.example", "password": factories.STAFF_PASSWORD},
        ).status_code
        == 303
    )

    page = client.get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    texts = client.get("/staff/texts")

    assert "Asked for a call" in page and "evening works &lt;b&gt;bold&lt;/b&gt;" in page
    assert texts.status_code == 200
    html = texts.get_data(as_text=True)
    assert "who is this? &lt;script&gt;x()&lt;/script&gt;" in html
    assert "(415) 555-0123" in html
    assert "evening works" not in html  # a lead's texts are on its own page


def test_the_texts_page_needs_a_signed_in_person(sms_app: Callable[..., Flask]) -> None:
    app = sms_app()
    text_in(app, "hello", STRANGER)

    response = app.test_client().get("/staff/texts")

    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


def test_a_reply_to_my_assigned_lead_notifies_me_in_the_app_and_not_others(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    lead_id = started(app)
    assign(app, lead_id, "dr.lee@sunrise.example")
    factories.user(database(app), "coordinator", email="casey@sunrise.example")
    opened = utcnow()
    assert badge_for(app, "dr.lee@sunrise.example", opened)[0] == 0

    text_in(app, "tomorrow afternoon please", PATIENT_PHONE)

    total, html = badge_for(app, "dr.lee@sunrise.example", opened)
    assert total == 1 and "1 reply" in html
    assert f'href="/staff/leads/{lead_id}">New reply from Jane<' in html
    assert "afternoon" not in html  # who, never the words
    assert badge_for(app, "casey@sunrise.example", opened)[0] == 0
