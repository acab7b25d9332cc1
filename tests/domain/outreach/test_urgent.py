"""The urgent path: crisis language in any form or the API reaches a person at once and again
until someone acknowledges (DOMAIN.md "Safety first")."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import utcnow
from intake_service.domain.outreach import urgent
from intake_service.domain.templates import message_context
from intake_service.models import Lead, Message, Triage, UrgentPage
from intake_service.security.ack_links import InvalidAckLink, make_token, read_token
from tests.domain.builders import (
    PATIENT_PHONE,
    database,
    deliver,
    lead_row,
    messages_of,
    process,
    settings_of,
    submit,
)

ON_CALL = {"ON_CALL_PHONE": "+13105550199", "ON_CALL_EMAIL": "oncall@sunrise.example"}
TEAM = "team-a@sunrise.example, team-b@sunrise.example"
CRISIS_TEXT = "Interested in TMS. Honestly I don't want to live anymore."


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    """Every ready app of this module, once on SQLite and once on PostgreSQL (the re-page
    sweep skips rows another beat holds, FOR UPDATE SKIP LOCKED)."""
    return backend_url


@pytest.fixture
def app(ready_app: Callable[..., Flask]) -> Flask:
    application = ready_app(TEAM_EMAILS=TEAM, **ON_CALL)
    application.config["WTF_CSRF_ENABLED"] = False
    return application


def crisis_lead(app: Flask, **changes: Any) -> uuid.UUID:
    return submit(app, form="contact", answers=None, message=CRISIS_TEXT, **changes)


def plan(app: Flask, lead_id: uuid.UUID) -> list[tuple[str, str, str, str]]:
    return sorted(
        (m.step_key, m.channel, m.recipient, m.template_key)
        for m in messages_of(database(app), lead_id)
    )


# --- in the same request ---------------------------------------------------------------------


def test_api_post_with_crisis_text_is_urgent_at_once_with_988_and_911(app: Flask) -> None:
    body = {
        "form": "contact",
        "contact": {"first_name": "Ana", "phone": "(213) 373-4253"},
        "message": "i want to k1ll mys3lf tonight",
    }

    response = app.test_client().post("/api/v1/submissions", json=body)

    assert response.status_code == 201
    answer = response.get_json()
    assert answer["urgent"] is True
    assert answer["message"].startswith("If you are in immediate danger, call 911")
    assert "988" in answer["message"] and "988lifeline.org" in answer["message"]
    lead = lead_row(database(app), uuid.UUID(answer["lead_id"]))
    assert (lead.urgent, lead.priority) == (True, "urgent")


def test_contact_form_with_crisis_text_shows_988_and_911_first_with_tappable_links(
    app: Flask,
) -> None:
    client = app.test_client()
    form = {
        "first_name": "Jane",
        "email": "jane@patients.example",
        "treatment_interest": "ketamine",
        "callback_window": "any",
        "message": "I don't want to live anymore",
        "submission_token": str(uuid.uuid4()),
    }

    posted = client.post("/contact", data=form)
    page = client.get(posted.headers["Location"]).get_data(as_text=True)

    assert posted.status_code == 303
    assert page.index("immediate danger") < page.index("Thank you for telling us")
    for link in ('href="tel:911"', 'href="tel:988"', 'href="sms:988"', "988lifeline.org"):
        assert link in page
    assert "will contact you soon" not in page


def test_an_ordinary_message_is_not_urgent(app: Flask) -> None:
    lead_id = submit(app, form="contact", answers=None, message="Can you call after 5?")

    assert lead_row(database(app), lead_id).urgent is False


# --- what processing plans -------------------------------------------------------------------


def test_urgent_lead_pages_on_call_tells_team_sends_crisis_reply_and_plans_no_drip(
    app: Flask,
) -> None:
    lead_id = crisis_lead(app)

    process(app, lead_id)

    assert plan(app, lead_id) == sorted(
        [
            ("first", "email", "jane.doe@patients.example", "patient_crisis_reply"),
            ("first", "sms", PATIENT_PHONE, "patient_crisis_reply"),
            ("first", "email", "team-a@sunrise.example", "team_urgent_page"),
            ("first", "email", "team-b@sunrise.example", "team_urgent_page"),
            ("page1", "email", "oncall@sunrise.example", "team_urgent_page"),
            ("page1", "sms", "+13105550199", "team_urgent_page"),
        ]
    )
    with database(app).session() as session:
        pages = session.scalars(sa.select(UrgentPage).where(UrgentPage.lead_id == lead_id)).all()
        assert [(p.round, p.done_at) for p in pages] == [(2, None)]


def test_with_texting_off_the_on_call_page_goes_by_email_only(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(TEAM_EMAILS=TEAM, SMS_ENABLED="false", **ON_CALL)
    lead_id = crisis_lead(app)

    process(app, lead_id)

    pages = [(step, channel) for step, channel, _, key in plan(app, lead_id) if step == "page1"]
    assert pages == [("page1", "email")]


def test_on_call_text_says_call_now_with_a_link_and_no_health_detail(app: Flask) -> None:
    lead_id = crisis_lead(app)
    ids = process(app, lead_id)

    for message_id in ids:
        deliver(app, message_id)

    (text,) = [m for m in messages_of(database(app), lead_id) if m.recipient == "+13105550199"]
    assert text.status == "sent"
    assert text.body_text is not None
    assert text.body_text.startswith("Urgent lead: call now http://127.0.0.1:5000/ack/")
    for detail in ("live", "TMS", "Jane", "Doe", "crisis", "suicid", "depress"):
        assert detail not in text.body_text
    (reply,) = [m for m in messages_of(database(app), lead_id) if m.recipient == PATIENT_PHONE]
    assert reply.body_text is not None
    assert "988" in reply.body_text and "911" in reply.body_text
    assert "ketamine" not in reply.body_text.lower() and "tms" not in reply.body_text.lower()


def test_triage_keeps_the_rule_and_words_encrypted_with_the_rules_version(app: Flask) -> None:
    lead_id = crisis_lead(app)
    process(app, lead_id)

    with database(app).session() as session:
        triage = session.scalars(sa.select(Triage).where(Triage.lead_id == lead_id)).one()
        assert triage.crisis_version and triage.rules_version
        assert triage.crisis and triage.crisis[0]["words"] == "don't want to live"
        assert triage.reasons[0] == "crisis_language"
        raw = session.execute(sa.text("SELECT crisis, reasons FROM triages")).one()
    assert "want to live" not in raw.crisis and "crisis_language" not in raw.reasons


# --- re-paging with a controllable clock -----------------------------------------------------


def test_unacknowledged_lead_is_paged_again_to_the_whole_team_and_again_after(app: Flask) -> None:
    db, settings = database(app), settings_of(app)
    lead_id = crisis_lead(app)
    process(app, lead_id)
    start = utcnow()

    assert urgent.sweep(db, settings, now=start + dt.timedelta(minutes=9)) == 0
    assert urgent.sweep(db, settings, now=start + dt.timedelta(minutes=11)) == 1
    assert urgent.sweep(db, settings, now=start + dt.timedelta(minutes=12)) == 0
    assert urgent.sweep(db, settings, now=start + dt.timedelta(minutes=22)) == 1

    for round_ in ("page2", "page3"):
        assert sorted(
            (m.channel, m.recipient) for m in messages_of(db, lead_id) if m.step_key == round_
        ) == [
            ("email", "oncall@sunrise.example"),
            ("email", "team-a@sunrise.example"),
            ("email", "team-b@sunrise.example"),
            ("sms", "+13105550199"),
        ]


def test_no_repage_after_acknowledgement(app: Flask) -> None:
    db, settings = database(app), settings_of(app)
    lead_id = crisis_lead(app)
    process(app, lead_id)

    assert urgent.acknowledge(db, lead_id, "+13105550199") is True
    assert urgent.acknowledge(db, lead_id, "someone-else@sunrise.example") is False

    assert urgent.sweep(db, settings, now=utcnow() + dt.timedelta(hours=2)) == 0
    assert not [m for m in messages_of(db, lead_id) if m.step_key.startswith("page2")]
    lead = lead_row(db, lead_id)
    assert lead.acknowledged_by == "+13105550199" and lead.acknowledged_at is not None


def test_repage_minutes_come_from_settings(ready_app: Callable[..., Flask]) -> None:
    app = ready_app(URGENT_REPAGE_MINUTES="2", **ON_CALL)
    lead_id = crisis_lead(app)
    process(app, lead_id)

    assert urgent.sweep(database(app), settings_of(app), utcnow() + dt.timedelta(minutes=3)) == 1


def test_acknowledging_an_unknown_lead_says_so(app: Flask) -> None:
    with pytest.raises(urgent.UnknownLead):
        urgent.acknowledge(database(app), uuid.uuid4(), "x")


# --- the signed acknowledgement link ---------------------------------------------------------


def test_ack_link_shows_who_to_call_and_acknowledges_only_on_post(app: Flask) -> None:
    lead_id = crisis_lead(app)
    process(app, lead_id)
    token = make_token(settings_of(app).secret_key, lead_id, "+13105550199")
    client = app.test_client()

    shown = client.get(f"/ack/{token}")

    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert f'href="tel:{PATIENT_PHONE}"' in page and "Jane" in page
    assert "want to live" not in page
    assert lead_row(database(app), lead_id).acknowledged_at is None  # link previews are harmless

    done = client.post(f"/ack/{token}")

    assert done.status_code == 200
    assert "acknowledged" in done.get_data(as_text=True)
    assert lead_row(database(app), lead_id).acknowledged_by == "+13105550199"


@pytest.mark.parametrize("token", ["nonsense", "a" * 300, "eyJsZWFkIjoiMSJ9.x.y"])
def test_forged_ack_link_is_a_404_not_a_500(app: Flask, token: str) -> None:
    assert app.test_client().post(f"/ack/{token}").status_code == 404


def test_ack_token_from_another_key_is_refused() -> None:
    token = make_token("one-secret-key-0123456789", uuid.uuid4(), "x")

    with pytest.raises(InvalidAckLink):
        read_token("another-secret-key-0123456", token)


def test_the_team_email_carries_its_own_ack_link(app: Flask) -> None:
    lead_id = crisis_lead(app)
    process(app, lead_id)
    with database(app).session() as session:
        lead = session.get_one(Lead, lead_id)
        context = message_context.team_context(
            session, lead, settings_of(app), utcnow(), "team-a@sunrise.example"
        )
    token = context["lead"]["ack_url"].rsplit("/", 1)[1]
    assert read_token(settings_of(app).secret_key, token) == (lead_id, "team-a@sunrise.example")


def test_urgent_messages_go_ahead_of_others_in_the_queue(app: Flask) -> None:
    db, settings = database(app), settings_of(app)
    ordinary = submit(app)
    with db.transaction() as session:
        session.add(
            Message(
                lead_id=ordinary,
                plan_key="x",
                step_key="x",
                audience="team",
                channel="email",
                template_key="team_new_lead",
                recipient="team-a@sunrise.example",
                due_at=utcnow() - dt.timedelta(hours=1),
                created_at=utcnow(),
            )
        )
    lead_id = crisis_lead(app)
    process(app, lead_id)  # claims only this lead's messages
    with db.transaction() as session:
        session.execute(
            sa.update(Message).where(Message.lead_id == lead_id).values(status="planned")
        )

    from intake_service.domain.outreach import scheduler

    claimed = scheduler.claim_due(db, settings.delivery)
    with db.session() as session:
        first = session.get_one(Message, claimed[0])
        assert first.lead_id == lead_id


@pytest.mark.parametrize("raw", ["0", "-3", "soon", "nan"])
def test_bad_repage_minutes_is_refused_with_a_sentence(
    make_settings: Callable[..., Any], raw: str
) -> None:
    from intake_service.config import ConfigError

    with pytest.raises(ConfigError, match="URGENT_REPAGE_MINUTES must be a number of minutes"):
        make_settings(URGENT_REPAGE_MINUTES=raw)


def test_on_call_email_must_be_an_address(make_settings: Callable[..., Any]) -> None:
    from intake_service.config import ConfigError

    with pytest.raises(ConfigError, match="ON_CALL_EMAIL"):
        make_settings(ON_CALL_EMAIL="not an address")
