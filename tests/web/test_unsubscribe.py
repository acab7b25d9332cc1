"""Email that can be left: List-Unsubscribe with RFC 8058 one-click on every patient email, a
signed link that works without signing in and records the opt-out, Reply-To the team, and the
clinic's postal address in every patient email."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.domain.compliance import consent, unsubscribe
from intake_service.domain.templates.message_context import patient_context
from intake_service.domain.templates.rendering import render
from intake_service.domain.templates.versions import read_defaults
from intake_service.models import ConsentEvent, Lead, MessageStatus
from tests.domain.builders import (
    PATIENT_EMAIL,
    database,
    find,
    process_and_deliver,
    settings_of,
    submit,
)
from tests.support.smtp_server import ReceivedMail, SmtpServer
from tests.support.twilio_webhooks import PUBLIC

UA = "Mozilla/5.0 (unsubscribe test)"


@pytest.fixture
def app(sms_app: Callable[..., Flask]) -> Flask:
    return sms_app(REPLY_TO="care@sunrise.example")


def mail_to(smtp_server: SmtpServer, address: str) -> ReceivedMail:
    (found,) = [m for m in smtp_server.messages if address in m.rcpt_tos]
    return found


def delivered_lead(app: Flask) -> uuid.UUID:
    lead_id = submit(app)
    process_and_deliver(app, lead_id)
    return lead_id


def link_of(mail: ReceivedMail) -> str:
    match = re.fullmatch(r"<(.+)>", str(mail.message["List-Unsubscribe"]))
    assert match, mail.message["List-Unsubscribe"]
    return match[1]


def email_events(app: Flask, lead_id: uuid.UUID) -> list[ConsentEvent]:
    with database(app).session() as session:
        return list(
            session.scalars(
                sa.select(ConsentEvent)
                .where(ConsentEvent.lead_id == lead_id, ConsentEvent.channel == "email")
                .order_by(ConsentEvent.id)
            )
        )


def test_patient_email_has_one_click_unsubscribe_and_reply_to_the_team(
    app: Flask, smtp_server: SmtpServer
) -> None:
    lead_id = delivered_lead(app)

    mail = mail_to(smtp_server, PATIENT_EMAIL)

    link = link_of(mail)
    assert link == unsubscribe.url_for(lead_id, settings_of(app))
    assert link.startswith(PUBLIC + "/unsubscribe/")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.message["Reply-To"] == "care@sunrise.example"
    text = mail.message.get_body(("plain",)).get_content()
    assert link in text
    assert "100 Main St, Los Angeles, CA 90001" in text
    html = mail.message.get_body(("html",)).get_content()
    assert f'href="{link}"' in html


def test_team_email_has_no_unsubscribe(app: Flask, smtp_server: SmtpServer) -> None:
    delivered_lead(app)

    team = mail_to(smtp_server, "team@sunrise.example")

    assert team.message["List-Unsubscribe"] is None


def test_opening_the_link_asks_and_changes_nothing(app: Flask, smtp_server: SmtpServer) -> None:
    # Mail scanners open every link: a GET must never unsubscribe anyone.
    lead_id = delivered_lead(app)
    path = link_of(mail_to(smtp_server, PATIENT_EMAIL)).removeprefix(PUBLIC)

    page = app.test_client().get(path)

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Unsubscribe from emails" in html
    assert "j…@patients.example" in html and PATIENT_EMAIL not in html
    assert page.headers["Cache-Control"] == "no-store"
    assert [e.action for e in email_events(app, lead_id)] == ["opt_in"]


def test_the_button_unsubscribes_without_signing_in_and_cancels_planned_emails(
    app: Flask, smtp_server: SmtpServer
) -> None:
    lead_id = delivered_lead(app)
    path = link_of(mail_to(smtp_server, PATIENT_EMAIL)).removeprefix(PUBLIC)

    done = app.test_client().post(path, headers={"User-Agent": UA})

    assert done.status_code == 200
    assert "You are unsubscribed" in done.get_data(as_text=True)
    opt_out = email_events(app, lead_id)[-1]
    assert (opt_out.action, opt_out.source, opt_out.user_agent) == ("opt_out", "email_link", UA)
    assert opt_out.ip is not None
    for step in ("day3", "day7"):
        assert find(app, lead_id, step, "email").status == MessageStatus.CANCELLED
    assert find(app, lead_id, "day1", "sms").status == MessageStatus.PLANNED  # texts go on
    with database(app).session() as session:
        assert not consent.has_consent(session, lead_id, "email")
        assert consent.has_consent(session, lead_id, "sms")
    # Opening the link again shows it is done, and a second click records nothing new.
    assert "You are unsubscribed" in app.test_client().get(path).get_data(as_text=True)
    app.test_client().post(path)
    assert len(email_events(app, lead_id)) == 2


def test_one_click_post_from_a_mail_provider_unsubscribes(
    app: Flask, smtp_server: SmtpServer
) -> None:
    lead_id = delivered_lead(app)
    path = link_of(mail_to(smtp_server, PATIENT_EMAIL)).removeprefix(PUBLIC)

    response = app.test_client().post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert email_events(app, lead_id)[-1].source == "email_one-click"


def test_every_lead_with_the_address_is_unsubscribed(app: Flask, smtp_server: SmtpServer) -> None:
    first = delivered_lead(app)
    second = submit(app)
    token = unsubscribe.token_for(first, settings_of(app))

    app.test_client().post(f"/unsubscribe/{token}")

    with database(app).session() as session:
        assert not consent.has_consent(session, second, "email")


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "InN0cmluZyI.abc", "x" * 300],
)
def test_a_tampered_or_unknown_link_is_refused_and_changes_nothing(app: Flask, token: str) -> None:
    lead_id = submit(app)

    for response in (
        app.test_client().get(f"/unsubscribe/{token}"),
        app.test_client().post(f"/unsubscribe/{token}"),
    ):
        assert response.status_code == 400
        assert "does not work" in response.get_data(as_text=True)
    assert [e.action for e in email_events(app, lead_id)] == ["opt_in"]


def test_a_link_signed_with_another_secret_is_refused(
    app: Flask, make_settings: Callable[..., object]
) -> None:
    lead_id = submit(app)
    other = make_settings(SECRET_KEY="another-secret-key-entirely")
    token = unsubscribe.token_for(lead_id, other)  # type: ignore[arg-type]

    assert app.test_client().post(f"/unsubscribe/{token}").status_code == 400


def test_a_link_for_a_deleted_lead_is_refused(app: Flask) -> None:
    token = unsubscribe.token_for(uuid.uuid4(), settings_of(app))

    assert app.test_client().get(f"/unsubscribe/{token}").status_code == 400


def test_every_patient_email_template_has_the_postal_address_and_the_unsubscribe_link(
    app: Flask,
) -> None:
    settings = settings_of(app)
    lead = Lead(id=uuid.uuid4(), first_name="Jane", treatment_interest="tms")
    context = patient_context(lead, settings)
    patient_emails = [
        d for d in read_defaults() if d.channel == "email" and not d.key.startswith("team_")
    ]
    assert len(patient_emails) >= 4

    for default in patient_emails:
        rendered = render(default.source, context)
        for part in (rendered.body_text, rendered.body_html or ""):
            assert settings.clinic_address in part, default.key
            assert unsubscribe.url_for(lead.id, settings) in part, default.key
