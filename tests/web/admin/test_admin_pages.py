"""Failed messages, users, sequences, clinic settings and the audit log through the test client."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain.outreach import delivery, scheduler
from intake_service.models import AuditEvent, DeliveryAttempt, DevMailboxEntry, Message, User
from intake_service.models.audit import AuditIsAppendOnly
from tests.support import factories
from tests.support.smtp_server import SmtpServer


def failed_message(db: Database, **lead_fields: Any) -> tuple[int, uuid.UUID]:
    """A text that failed for good after three tries (the factory writes its attempts)."""
    with db.transaction() as session:
        lead = factories.lead(session, sms_consent=True, **lead_fields)
        message = factories.message(
            session, lead, "failed", attempts=3, last_error="server_error: http 500", body_text=None
        )
        return message.id, lead.id


def flashed(client: Any, response: Any) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return str(client.get(response.headers["Location"]).get_data(as_text=True))


# --- failed messages ---------------------------------------------------------------------------


def test_failed_messages_are_listed_with_their_attempts(admin: Any, loaded: Database) -> None:
    message_id, lead_id = failed_message(loaded)
    page = admin.get("/admin/messages/failed").get_data(as_text=True)
    assert f"#{message_id}" in page and "server_error: http 500" in page
    assert f"/staff/leads/{lead_id}" in page
    detail = admin.get(f"/admin/messages/failed/{message_id}").get_data(as_text=True)
    assert detail.split("<tbody>")[1].split("</tbody>")[0].count("<tr>") == 3
    assert admin.get("/admin/messages/failed/424242").status_code == 404


def test_retry_really_sends_a_new_tracked_attempt(admin: Any, app: Flask, loaded: Database) -> None:
    message_id, lead_id = failed_message(loaded)
    page = flashed(admin, admin.post(f"/admin/messages/failed/{message_id}/retry"))
    assert "planned again" in page and f"#{message_id}" not in page
    settings = app.extensions["intake.settings"]
    assert message_id in scheduler.claim_due(loaded, settings.delivery)
    assert delivery.deliver(loaded, settings, message_id).status == "sent"
    with loaded.session() as session:
        message = session.get_one(Message, message_id)
        attempts = session.scalars(
            sa.select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id)
        ).all()
        texts = session.scalars(sa.select(DevMailboxEntry)).all()
        event = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.kind == "message.retried")
        ).one()
    assert message.status == "sent" and len(attempts) == 4 and attempts[-1].outcome == "sent"
    assert len(texts) == 1
    assert (event.lead_id, event.detail) == (lead_id, {"message_id": message_id})


def test_a_dead_contact_point_is_not_retried(admin: Any, loaded: Database) -> None:
    message_id, _ = failed_message(loaded, phone_status="invalid_number")
    page = flashed(admin, admin.post(f"/admin/messages/failed/{message_id}/retry"))
    assert "was not retried" in page and "marked invalid_number" in page


def test_dismiss_keeps_the_message_out_of_the_list(admin: Any, loaded: Database) -> None:
    message_id, _ = failed_message(loaded)
    page = flashed(admin, admin.post(f"/admin/messages/failed/{message_id}/dismiss"))
    assert "dismissed" in page and f'id="failed-{message_id}"' not in page
    everything = admin.get("/admin/messages/failed?all=1").get_data(as_text=True)
    assert f'id="failed-{message_id}"' in everything
    assert admin.post(f"/admin/messages/failed/{message_id + 99}/dismiss").status_code == 404


# --- users ---------------------------------------------------------------------------------------


def test_an_invitation_is_emailed_and_its_link_makes_the_account(
    make_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = make_app(SMTP_URL=smtp_server.url)
    app.config["WTF_CSRF_ENABLED"] = False
    db: Database = app.extensions["intake.db"]
    with db.transaction() as session:
        factories.user(session, "admin", email="ada@clinic.example")
    client = app.test_client()
    client.post(
        "/login", data={"email": "ada@clinic.example", "password": factories.STAFF_PASSWORD}
    )
    page = flashed(
        client,
        client.post(
            "/admin/users/invite",
            data={"email": "Nia@Clinic.example", "role": "clinician", "name": "Nia"},
        ),
    )
    assert "A one-time link was emailed to nia@clinic.example" in page
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("nia@clinic.example",)
    body = mail.message.get_body(("plain",)).get_content()
    path = re.search(r"http://127\.0\.0\.1:5000(/account/\S+)", body)
    assert path is not None and "as a clinician" in body

    stranger = app.test_client()
    form = stranger.get(path[1])
    assert form.status_code == 200 and form.headers["Referrer-Policy"] == "no-referrer"
    mismatch = stranger.post(path[1], data={"password": "x" * 20, "confirm": "y" * 20})
    assert mismatch.status_code == 422
    weak = stranger.post(path[1], data={"password": "short", "confirm": "short"})
    assert weak.status_code == 422 and "at least 12 characters" in weak.get_data(as_text=True)
    done = stranger.post(
        path[1],
        data={"password": "nia's own long passphrase", "confirm": "nia's own long passphrase"},
    )
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert stranger.get(path[1]).status_code == 404  # once only
    signed_in = stranger.post(
        "/login", data={"email": "nia@clinic.example", "password": "nia's own long passphrase"}
    )
    assert signed_in.status_code == 303


def test_invite_refusals_are_clear(admin: Any, loaded: Database) -> None:
    page = admin.post(
        "/admin/users/invite", data={"email": "clinician@clinic.example", "role": "clinician"}
    )
    assert page.status_code == 422 and "already exists" in page.get_data(as_text=True)
    assert admin.post("/admin/users/invite", data={"email": "", "role": "admin"}).status_code == 400
    bad_role = admin.post(
        "/admin/users/invite", data={"email": "z@clinic.example", "role": "owner"}
    )
    assert bad_role.status_code == 400


def test_roles_disable_enable_and_the_last_admin(
    admin: Any, loaded: Database, accounts: dict[str, tuple[int, str]], sign_in: Callable[..., Any]
) -> None:
    admin_id, coordinator_id = accounts["admin"][0], accounts["coordinator"][0]
    clinician = sign_in("clinician")
    page = flashed(admin, admin.post(f"/admin/users/{admin_id}/role", data={"role": "clinician"}))
    assert "only active administrator" in page
    page = flashed(admin, admin.post(f"/admin/users/{admin_id}/disable"))
    assert "cannot disable your own account" in page
    page = flashed(admin, admin.post(f"/admin/users/{accounts['clinician'][0]}/disable"))
    assert "is disabled; their sessions have ended" in page
    assert clinician.get("/staff/leads").status_code == 302  # signed out at once
    page = flashed(admin, admin.post(f"/admin/users/{accounts['clinician'][0]}/enable"))
    assert "can sign in again" in page
    page = flashed(admin, admin.post(f"/admin/users/{coordinator_id}/role", data={"role": "admin"}))
    assert "is now admin" in page
    with loaded.session() as session:
        assert session.get_one(User, coordinator_id).role == "admin"
    assert admin.post("/admin/users/999/role", data={"role": "admin"}).status_code == 303


def test_a_password_reset_is_emailed_and_locks_the_old_password(
    admin: Any, loaded: Database, accounts: dict[str, tuple[int, str]], app: Flask
) -> None:
    clinician_id = accounts["clinician"][0]
    page = flashed(admin, admin.post(f"/admin/users/{clinician_id}/reset"))
    assert (
        "A one-time link was emailed to clinician@clinic.example" in page and "reset sent" in page
    )
    with loaded.session() as session:
        (mail,) = session.scalars(sa.select(DevMailboxEntry))
    assert mail.recipient == "clinician@clinic.example" and "/account/" in mail.body_text
    old = app.test_client().post(
        "/login", data={"email": "clinician@clinic.example", "password": factories.STAFF_PASSWORD}
    )
    assert old.status_code == 401
    own = flashed(admin, admin.post(f"/admin/users/{accounts['admin'][0]}/reset"))
    assert "ask another administrator" in own


def test_an_admin_sets_their_own_phone_for_test_texts(admin: Any, loaded: Database) -> None:
    page = flashed(admin, admin.post("/admin/users/me/phone", data={"phone": "(310) 555-0199"}))
    assert "Test texts will go to your phone" in page and "(310) 555-0199" in page
    page = flashed(admin, admin.post("/admin/users/me/phone", data={"phone": "nope"}))
    assert "Phone not saved" in page


# --- sequences -----------------------------------------------------------------------------------


def test_sequences_page_edits_steps_and_says_when_changes_apply(
    admin: Any, loaded: Database
) -> None:
    page = admin.get("/admin/sequences").get_data(as_text=True)
    assert "A change applies to leads that arrive after you save it." in page
    rows = page.split('<tr id="step-')[1:]
    # The first sequence on the page is IV ketamine's; this is its day1 text.
    step_id = next(row.split('"')[0] for row in rows if "<code>day1</code>" in row)
    page = flashed(
        admin,
        admin.post(f"/admin/sequences/ketamine/steps/{step_id}/enabled", data={"enabled": "0"}),
    )
    assert "Step disabled. Saved as version 2" in page
    page = flashed(
        admin,
        admin.post(
            "/admin/sequences/ketamine/steps",
            data={
                "key": "day2",
                "delay": "2d",
                "audience": "patient",
                "channel": "sms",
                "template_key": "patient_checkin",
            },
        ),
    )
    assert "Step added. Saved as version 3" in page
    page = flashed(
        admin,
        admin.post(
            f"/admin/sequences/ketamine/steps/{step_id}",
            data={"delay": "soon", "template_key": "patient_checkin"},
        ),
    )
    assert "Not changed: delay &#39;soon&#39; is not like" in page
    page = flashed(
        admin,
        admin.post(f"/admin/sequences/ketamine/steps/{step_id}/move", data={"direction": "down"}),
    )
    assert "Step moved" in page
    page = flashed(admin, admin.post("/admin/sequences/ketamine/versions/1/restore"))
    assert "Version 1 restored. Saved as version 5" in page
    assert "Not changed" in flashed(
        admin, admin.post("/admin/sequences/ketamine/versions/77/restore")
    )
    assert "Not changed" in flashed(
        admin, admin.post("/admin/sequences/ketamine/steps/9999/move", data={"direction": "up"})
    )


# --- clinic settings -----------------------------------------------------------------------------


def test_settings_save_override_and_refuse(admin: Any, loaded: Database) -> None:
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert 'value="Sunrise Clinic"' in page and "From the environment." in page
    form = {
        "name": "Sunrise Mind",
        "phone": "(310) 555-0100",
        "address": "100 Main St, Los Angeles, CA 90001",
        "timezone": "America/Los_Angeles",
        "team_email_candidacy": "1",
    }
    page = flashed(admin, admin.post("/admin/settings", data=form))
    assert "Saved: clinic name, team email may carry the tms candidacy" in page
    assert "Set here; the environment says “Sunrise Clinic”." in page
    bad = admin.post("/admin/settings", data={**form, "timezone": "Moon/Base"})
    assert bad.status_code == 422 and "not a time zone" in bad.get_data(as_text=True)
    assert 'value="Moon/Base"' in bad.get_data(as_text=True)  # what was typed stays
    editor = admin.get("/admin/templates").get_data(as_text=True)
    assert editor  # the clinic name now reaches previews:
    with loaded.session() as session:
        template_id = session.scalar(
            sa.text("SELECT id FROM templates WHERE key='patient_checkin' AND channel='sms'")
        )
    assert "it&#39;s Sunrise Mind" in admin.get(f"/admin/templates/{template_id}").get_data(
        as_text=True
    )


# --- audit log -----------------------------------------------------------------------------------


def test_audit_log_filters_by_person_lead_and_kind(
    admin: Any, loaded: Database, accounts: dict[str, tuple[int, str]]
) -> None:
    message_id, lead_id = failed_message(loaded)
    admin.post(f"/admin/messages/failed/{message_id}/dismiss")
    everything = admin.get("/admin/audit").get_data(as_text=True)
    assert "auth.login" in everything and "message.dismissed" in everything
    by_lead = admin.get(f"/admin/audit?lead={lead_id}").get_data(as_text=True)
    assert "message.dismissed" in by_lead and "auth.login" not in by_lead.split("<tbody>")[1]
    by_kind = admin.get("/admin/audit?kind=auth.login").get_data(as_text=True).split("<tbody>")[1]
    assert "auth.login" in by_kind and "message.dismissed" not in by_kind
    nobody = admin.get(f"/admin/audit?person={accounts['clinician'][0]}").get_data(as_text=True)
    assert "No events match" in nobody
    assert admin.get("/admin/audit?lead=not-a-uuid").status_code == 400
    assert admin.get("/admin/audit?kind=made.up").status_code == 400


def test_audit_log_pages_to_older_events(admin: Any, loaded: Database) -> None:
    from intake_service.domain.compliance import audit

    with loaded.transaction() as session:
        for _ in range(120):
            audit.record(session, audit.Actor(None, "cli"), "user.created", detail={"user_id": 1})
    first = admin.get("/admin/audit?kind=user.created").get_data(as_text=True)
    older = re.search(r'href="(/admin/audit\?[^"]*before=\d+)"', first)
    assert older is not None
    second = admin.get(older[1].replace("&amp;", "&")).get_data(as_text=True)
    assert second.split("<tbody>")[1].count("<tr>") == 20


def test_audit_rows_cannot_be_changed(loaded: Database) -> None:
    with loaded.transaction() as session:
        from intake_service.domain.compliance import audit

        audit.record(session, audit.Actor(None, "cli"), "settings.changed", detail={})
    with pytest.raises(AuditIsAppendOnly), loaded.transaction() as session:
        row = session.scalars(sa.select(AuditEvent)).first()
        assert row is not None
        row.kind = "auth.login"
