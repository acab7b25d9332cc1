"""The template editor through the test client: preview, save, refuse, compare, restore, test."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain.templates.versions import read_defaults
from intake_service.models import AuditEvent, DevMailboxEntry, Message, Template, TemplateVersion
from tests.domain.builders import load_templates
from tests.support import factories
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

HTMX = {"HX-Request": "true"}


def tid(db: Database, key: str, channel: str, locale: str = "en") -> int:
    with db.session() as session:
        return int(
            session.scalars(
                sa.select(Template.id).where(
                    Template.key == key, Template.channel == channel, Template.locale == locale
                )
            ).one()
        )


def versions(db: Database, template_id: int) -> list[TemplateVersion]:
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(TemplateVersion)
                .where(TemplateVersion.template_id == template_id)
                .order_by(TemplateVersion.version)
            )
        )


def sms_form(body: str, **extra: str) -> dict[str, str]:
    return {"body_text": body, "sample_treatment": "tms", "sample_window": "evening", **extra}


def test_list_shows_every_template_by_key_audience_channel_and_locale(
    admin: Any, loaded: Database
) -> None:
    page = admin.get("/admin/templates").get_data(as_text=True)
    assert page.count('href="/admin/templates/') == len(read_defaults())
    for words in ("patient_first_reply", "team_urgent_page", "Text (SMS)", "Team", "Patient", "en"):
        assert words in page


def test_the_list_shows_each_locale_and_flags_a_missing_spanish_version(
    admin: Any, loaded: Database
) -> None:
    page = admin.get("/admin/templates").get_data(as_text=True)
    assert "Spanish <span" in page and "English <span" in page
    assert 'id="missing-translations"' not in page
    with loaded.transaction() as session:
        session.execute(
            sa.delete(Template).where(Template.id == tid(loaded, "patient_checkin", "sms", "es"))
        )

    flagged = admin.get("/admin/templates").get_data(as_text=True)

    assert 'id="missing-translations"' in flagged
    assert "<code>patient_checkin</code> (Text (SMS)): no Spanish version" in flagged
    assert flagged.count('<span class="badge missing">no Spanish</span>') == 1


def test_editing_a_spanish_template_saves_a_spanish_version(admin: Any, loaded: Database) -> None:
    template_id = tid(loaded, "patient_last_note", "sms", "es")
    page = admin.get(f"/admin/templates/{template_id}").get_data(as_text=True)
    assert "· Spanish</span>" in page
    assert "Hola, Jane. Somos Sunrise Clinic." in page  # the sample rendered in Spanish

    saved = admin.post(
        f"/admin/templates/{template_id}",
        data=sms_form("Hola, {{ patient.first_name }}. Responda STOP para cancelar."),
    )

    assert saved.status_code == 303
    (latest,) = [v for v in versions(loaded, template_id) if v.version == 2]
    assert (latest.source, latest.body_text) == (
        "admin",
        "Hola, {{ patient.first_name }}. Responda STOP para cancelar.",
    )
    english = versions(loaded, tid(loaded, "patient_last_note", "sms"))
    assert [v.version for v in english] == [1]


def test_editor_shows_the_version_in_force_previewed_and_its_variables(
    admin: Any, loaded: Database
) -> None:
    page = admin.get(f"/admin/templates/{tid(loaded, 'patient_first_reply', 'sms')}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Hi Jane, Sunrise Clinic here." in text  # rendered, not raw
    assert 'id="sms-segments"' in text and "GSM-7" in text
    assert 'data-insert="{{ patient.first_name }}"' in text
    assert "lead.name" not in text  # the team's variables are not offered to patients
    assert admin.get("/admin/templates/99999").status_code == 404


def test_live_preview_fragment_counts_segments_and_encoding_as_you_type(
    admin: Any, loaded: Database
) -> None:
    url = f"/admin/templates/{tid(loaded, 'patient_checkin', 'sms')}/preview"
    plain = admin.post(url, data=sms_form("Hi {{ patient.first_name }}"), headers=HTMX)
    body = plain.get_data(as_text=True)
    assert plain.status_code == 200 and "<html" not in body
    assert "Hi Jane" in body and 'id="sms-segments" class="">1<' in body and "GSM-7" in body
    assert 'hx-swap-oob="true"' in body and "1 segment, GSM-7" in body
    curly = admin.post(url, data=sms_form("Hi {{ patient.first_name }}\u2019"), headers=HTMX)
    text = curly.get_data(as_text=True)
    assert "UCS-2" in text and "is not in the GSM alphabet" in text
    long = admin.post(url, data=sms_form("x" * 400), headers=HTMX).get_data(as_text=True)
    assert "takes 3 segments" in long
    health = admin.post(url, data=sms_form("{{ lead.answers }}"), headers=HTMX)
    assert "Saving would be refused" in health.get_data(as_text=True)
    assert "health information" in health.get_data(as_text=True)


def test_preview_uses_the_sample_lead_picked_or_edited_as_json(
    admin: Any, loaded: Database
) -> None:
    url = f"/admin/templates/{tid(loaded, 'team_new_lead', 'email')}/preview"
    source = {"subject": "{% if lead.urgent %}URGENT {% endif %}{{ lead.name }}", "body_text": "x"}
    calm = admin.post(url, data={**source, "sample_treatment": "tms"}, headers=HTMX)
    assert "URGENT" not in calm.get_data(as_text=True)
    urgent = admin.post(url, data={**source, "sample_urgent": "y"}, headers=HTMX)
    assert "URGENT Jane Doe" in urgent.get_data(as_text=True)
    edited = admin.post(
        url, data={**source, "sample_json": '{"lead": {"name": "Ana Ruiz"}}'}, headers=HTMX
    )
    assert "Ana Ruiz" in edited.get_data(as_text=True)
    bad = admin.post(url, data={**source, "sample_json": '{"lead": {"shoe": 1}}'}, headers=HTMX)
    assert "lead.shoe is not a variable" in bad.get_data(as_text=True)


def test_html_is_previewed_in_a_sandboxed_frame(admin: Any, loaded: Database) -> None:
    page = admin.get(f"/admin/templates/{tid(loaded, 'patient_checkin', 'email')}")
    text = page.get_data(as_text=True)
    assert '<iframe class="email-frame" id="email-frame"' in text
    assert 'sandbox=""' in text and "srcdoc=" in text
    assert "&lt;p&gt;Hi Jane," in text  # the email is data in the attribute, not page markup
    assert "Would you still like a call from Sunrise Clinic?" in text  # the subject


def test_saving_makes_a_new_version_with_who_and_note(admin: Any, loaded: Database) -> None:
    template_id = tid(loaded, "patient_checkin", "sms")
    saved = admin.post(
        f"/admin/templates/{template_id}",
        data=sms_form("Hi {{ patient.first_name }}! {{ clinic.name }}", note="Shorter"),
    )
    assert saved.status_code == 303
    page = admin.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Saved as version 2" in page
    assert "admin@clinic.example" in page and "Shorter" in page and "Save as version 3" in page
    latest = versions(loaded, template_id)[-1]
    assert (latest.version, latest.author_email, latest.source) == (
        2,
        "admin@clinic.example",
        "admin",
    )
    again = admin.post(
        f"/admin/templates/{template_id}",
        data=sms_form("Hi {{ patient.first_name }}! {{ clinic.name }}"),
    )
    assert "Nothing changed" in admin.get(again.headers["Location"]).get_data(as_text=True)


def test_a_refused_save_keeps_the_draft_and_the_old_version(admin: Any, loaded: Database) -> None:
    template_id = tid(loaded, "patient_checkin", "sms")
    for body, words in [
        ("Hi {{ lead.nonexistent }}", "is not a variable patient messages get"),
        ("Hi {{ ''.__class__ }}", "the sandbox refuses __class__"),
        ("Your answers: {{ lead.answers }}", "health information and may never appear in a text"),
        ("Hi {{ patient.first_name", "Not saved"),
    ]:
        response = admin.post(f"/admin/templates/{template_id}", data=sms_form(body))
        text = response.get_data(as_text=True)
        assert response.status_code == 422, body
        assert words in text and "Version 1 is still in force" in text
        assert body.replace("'", "&#39;") in text  # the draft is still in the editor
    assert [v.version for v in versions(loaded, template_id)] == [1]


def test_compare_and_restore(admin: Any, loaded: Database) -> None:
    template_id = tid(loaded, "patient_last_note", "sms")
    original = versions(loaded, template_id)[0].body_text
    admin.post(f"/admin/templates/{template_id}", data=sms_form("Bye from {{ clinic.name }}."))
    diff = admin.get(f"/admin/templates/{template_id}/compare?old=1&new=2")
    text = diff.get_data(as_text=True)
    assert diff.status_code == 200
    assert 'class="removed"' in text and 'class="added"' in text
    assert "Bye from {{ clinic.name }}." in re.sub(r"<[^>]+>", "", text)
    assert "<mark>" in text  # the changed words stand out
    assert admin.get(f"/admin/templates/{template_id}/compare?old=1&new=9").status_code == 400
    restored = admin.post(f"/admin/templates/{template_id}/versions/1/restore")
    assert "Version 1 restored as version 3" in admin.get(restored.headers["Location"]).get_data(
        as_text=True
    )
    latest = versions(loaded, template_id)[-1]
    assert (latest.version, latest.body_text, latest.restored_from) == (3, original, 1)
    same = admin.get(f"/admin/templates/{template_id}/compare?old=1&new=3").get_data(as_text=True)
    assert "The two versions are the same" in same
    view = admin.get(f"/admin/templates/{template_id}/versions/2").get_data(as_text=True)
    assert "Bye from {{ clinic.name }}." in view and "Restore version 2" in view
    assert admin.get(f"/admin/templates/{template_id}/versions/7").status_code == 404


def test_without_javascript_the_preview_button_renders_the_whole_page(
    admin: Any, loaded: Database
) -> None:
    url = f"/admin/templates/{tid(loaded, 'patient_checkin', 'sms')}/preview"
    page = admin.post(url, data=sms_form("Hello {{ patient.first_name }}")).get_data(as_text=True)
    assert "<html" in page and "Hello Jane" in page and "Save as version 2" in page


def test_an_oversized_draft_is_a_clear_400(admin: Any, loaded: Database) -> None:
    template_id = tid(loaded, "patient_checkin", "sms")
    response = admin.post(f"/admin/templates/{template_id}", data=sms_form("x" * 20_001))
    assert response.status_code == 400
    assert "Text: Field cannot be longer" in response.get_data(as_text=True)


def admin_on(make_app: Callable[..., Flask], **env: str) -> tuple[Flask, Any]:
    app = make_app(**env)
    app.config["WTF_CSRF_ENABLED"] = False
    db: Database = app.extensions["intake.db"]
    load_templates(db)
    with db.transaction() as session:
        factories.user(session, "admin", email="ada@clinic.example", phone="+13105550199")
        patient = factories.lead(session, email="patient@patients.example")
        assert patient.email
    client = app.test_client()
    client.post(
        "/login", data={"email": "ada@clinic.example", "password": factories.STAFF_PASSWORD}
    )
    return app, client


def test_a_test_email_reaches_the_admin_only_through_smtp_marked_as_a_test(
    make_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app, client = admin_on(make_app, SMTP_URL=smtp_server.url)
    db: Database = app.extensions["intake.db"]
    template_id = tid(db, "patient_checkin", "email")
    response = client.post(
        f"/admin/templates/{template_id}/test",
        data={
            "subject": "Draft subject for {{ patient.first_name }}",
            "body_text": "Unsaved draft body for {{ treatment.label }}",
            "body_html": "<html><body><p>Draft {{ patient.first_name }}</p></body></html>",
            "sample_treatment": "spravato",
            # A recipient in the form is ignored: the test goes to the signed-in admin only.
            "recipient": "patient@patients.example",
        },
    )
    assert response.status_code == 200
    assert "Test sent to ada@clinic.example" in response.get_data(as_text=True)
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("ada@clinic.example",)
    message = mail.message
    assert message["Subject"] == "[TEST] Draft subject for Jane"
    assert message["X-Intake-Test"] == "draft of patient_checkin"
    text = message.get_body(("plain",)).get_content()
    assert "No patient received it" in text and "Unsaved draft body for Spravato" in text
    assert "TEST of the draft" in message.get_body(("html",)).get_content()
    assert [v.version for v in versions(db, template_id)] == [1]  # nothing saved
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0
        event = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.kind == "template.test_sent")
        ).one()
        assert event.actor_email == "ada@clinic.example"


def test_a_refused_draft_is_not_sent_as_a_test(
    make_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app, client = admin_on(make_app, SMTP_URL=smtp_server.url)
    template_id = tid(app.extensions["intake.db"], "patient_checkin", "email")
    response = client.post(
        f"/admin/templates/{template_id}/test",
        data={"subject": "Hi", "body_text": "{{ lead.nonexistent }}"},
    )
    assert response.status_code == 422
    assert smtp_server.messages == []


def test_a_test_text_goes_to_the_admin_phone_through_twilio(
    make_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app, client = admin_on(make_app, **twilio_standin.env())
    template_id = tid(app.extensions["intake.db"], "patient_checkin", "sms")
    response = client.post(
        f"/admin/templates/{template_id}/test", data=sms_form("Draft for {{ patient.first_name }}")
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    (sent,) = twilio_standin.messages
    assert (sent["to"], sent["body"]) == ("+13105550199", "[TEST] Draft for Jane")


def test_a_test_text_needs_the_admin_own_phone(admin: Any, loaded: Database) -> None:
    template_id = tid(loaded, "patient_checkin", "sms")
    page = admin.get(f"/admin/templates/{template_id}").get_data(as_text=True)
    assert "add your mobile number" in page
    response = admin.post(f"/admin/templates/{template_id}/test", data=sms_form("Hi"))
    assert response.status_code == 422
    assert "add your mobile number" in response.get_data(as_text=True)
    with loaded.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DevMailboxEntry)) == 0


def test_a_test_email_goes_to_the_dev_mailbox_when_no_smtp_is_set(
    admin: Any, loaded: Database
) -> None:
    template_id = tid(loaded, "patient_checkin", "email")
    response = admin.post(
        f"/admin/templates/{template_id}/test", data={"subject": "S", "body_text": "B"}
    )
    assert response.status_code == 200
    with loaded.session() as session:
        (entry,) = session.scalars(sa.select(DevMailboxEntry))
        assert (entry.recipient, entry.subject) == ("admin@clinic.example", "[TEST] S")
