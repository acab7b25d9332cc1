"""A one-off message from the lead page: preview, the contact policy, delivery, the audit."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from intake_service.db import Database
from intake_service.domain.compliance.consent import record_opt_out
from intake_service.domain.compliance.policy import Decision, Purpose
from intake_service.domain.leads import one_off
from intake_service.domain.outreach import sequences
from intake_service.domain.templates.versions import load_defaults
from intake_service.models import AuditEvent, Lead, Message, MessageStatus, Template
from tests.support import factories


@pytest.fixture(autouse=True)
def loaded_templates(db: Database) -> None:
    with db.transaction() as session:
        load_defaults(session)


def make_lead(db: Database, **fields: Any) -> uuid.UUID:
    with db.transaction() as session:
        return factories.lead(session, first_name="Ana", **fields).id


def version_of(html: str) -> str:
    marker = 'name="version_id" value="'
    return html.split(marker, 1)[1].split('"', 1)[0]


def staff_messages(db: Database, lead_id: uuid.UUID) -> list[Message]:
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(Message).where(Message.lead_id == lead_id, Message.step_key == "staff")
            )
        )


def test_lead_page_offers_patient_templates_only(sign_in: Callable[..., Any], db: Database) -> None:
    lead_id = make_lead(db)
    html = sign_in().get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    assert 'value="patient_checkin"' in html
    assert "team_new_lead" not in html and "team_urgent_page" not in html


def test_preview_renders_the_template_with_the_leads_context(
    sign_in: Callable[..., Any], db: Database
) -> None:
    lead_id = make_lead(db, sms_consent=True)
    page = sign_in().get(f"/staff/leads/{lead_id}/message?template=patient_checkin&channel=sms")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Ana" in html and 'id="send"' in html
    assert "{{" not in html
    # Looking is not sending.
    assert staff_messages(db, lead_id) == []


def test_send_plans_a_patient_message_hands_it_on_and_audits(
    sign_in: Callable[..., Any], db: Database, accounts: dict[str, Any]
) -> None:
    lead_id = make_lead(db, sms_consent=True)
    client = sign_in()
    html = client.get(
        f"/staff/leads/{lead_id}/message?template=patient_checkin&channel=sms"
    ).get_data(as_text=True)
    form = {"template": "patient_checkin", "channel": "sms", "version_id": version_of(html)}
    response = client.post(f"/staff/leads/{lead_id}/message", data=form)
    assert response.status_code == 303
    # Sent twice on purpose: two messages, each with its own plan key.
    client.post(f"/staff/leads/{lead_id}/message", data=form)
    rows = staff_messages(db, lead_id)
    assert len(rows) == 2 and len({m.plan_key for m in rows}) == 2
    assert all(m.audience == "patient" and m.channel == "sms" for m in rows)
    # Claimed for a worker as processing does (the test broker holds the task).
    assert all(m.status == MessageStatus.QUEUED for m in rows)
    with db.session() as session:
        audit = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.kind == "lead.message_sent")
        ).all()
    assert len(audit) == 2 and audit[0].actor_id == accounts["coordinator"][0]
    assert audit[0].detail == {
        "message_id": rows[0].id,
        "template": "patient_checkin",
        "channel": "sms",
    }
    page = client.get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    assert "on its way" in page


def test_no_text_after_stop_and_the_reason_is_shown(
    sign_in: Callable[..., Any], db: Database
) -> None:
    lead_id = make_lead(db, sms_consent=True)
    client = sign_in()
    version = version_of(
        client.get(f"/staff/leads/{lead_id}/message?template=patient_checkin&channel=sms").get_data(
            as_text=True
        )
    )
    with db.transaction() as session:
        record_opt_out(session, lead_id, "sms", "stop", dt.datetime.now(dt.UTC))
    page = client.get(f"/staff/leads/{lead_id}/message?template=patient_checkin&channel=sms")
    html = page.get_data(as_text=True)
    assert 'id="refusal"' in html and "replied STOP" in html and 'id="send"' not in html
    # A form posted from the old preview is refused by the policy too.
    data = {"template": "patient_checkin", "channel": "sms", "version_id": version}
    response = client.post(f"/staff/leads/{lead_id}/message", data=data, follow_redirects=True)
    assert "Not sent: the patient has not agreed to messages by text" in response.get_data(
        as_text=True
    )
    assert staff_messages(db, lead_id) == []


def test_no_text_without_consent(sign_in: Callable[..., Any], db: Database) -> None:
    lead_id = make_lead(db, sms_consent=False)
    html = (
        sign_in()
        .get(f"/staff/leads/{lead_id}/message?template=patient_checkin&channel=sms")
        .get_data(as_text=True)
    )
    assert "has not agreed to messages by text" in html


def test_a_deferred_decision_is_shown_and_the_message_waits(
    sign_in: Callable[..., Any], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Quiet hours are another rule's job; any rule that only defers gives this answer.
    later = dt.datetime(2030, 1, 2, 16, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(
        "intake_service.domain.leads.one_off.can_contact",
        lambda *a, **k: Decision(False, "quiet_hours", not_before=later),
    )
    lead_id = make_lead(db, sms_consent=True)
    client = sign_in()
    html = client.get(
        f"/staff/leads/{lead_id}/message?template=patient_checkin&channel=sms"
    ).get_data(as_text=True)
    assert 'id="later"' in html and "will go at" in html
    data = {"template": "patient_checkin", "channel": "sms", "version_id": version_of(html)}
    client.post(f"/staff/leads/{lead_id}/message", data=data)
    (row,) = staff_messages(db, lead_id)
    assert row.status == MessageStatus.PLANNED and row.due_at.replace(tzinfo=dt.UTC) == later


def test_a_changed_template_needs_a_new_preview(sign_in: Callable[..., Any], db: Database) -> None:
    lead_id = make_lead(db, sms_consent=True)
    data = {"template": "patient_checkin", "channel": "sms", "version_id": "999999"}
    response = sign_in().post(f"/staff/leads/{lead_id}/message", data=data, follow_redirects=True)
    assert "changed since your preview" in response.get_data(as_text=True)
    assert staff_messages(db, lead_id) == []


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?template=patient_checkin",
        "?template=team_new_lead&channel=email",
        "?template=patient_checkin&channel=fax",
        "?template=nope&channel=sms",
    ],
)
def test_bad_choices_are_400(sign_in: Callable[..., Any], db: Database, query: str) -> None:
    lead_id = make_lead(db)
    assert sign_in().get(f"/staff/leads/{lead_id}/message{query}").status_code == 400


def test_bad_posts_are_4xx(sign_in: Callable[..., Any], db: Database) -> None:
    client = sign_in()
    lead_id = make_lead(db)
    form = {"template": "patient_checkin", "channel": "sms", "version_id": "x"}
    assert client.post(f"/staff/leads/{lead_id}/message", data=form).status_code == 400
    form["version_id"] = "1"
    assert client.post(f"/staff/leads/{uuid.uuid4()}/message", data=form).status_code == 404


def quiet_hours(allow_exemption: bool, later: dt.datetime) -> Callable[..., Decision]:
    """A stand-in for a deferring rule: staff one-offs wait; confirmed ones go if allowed."""

    def decide(session: Any, lead: Any, channel: str, purpose: Purpose, now: Any) -> Decision:
        if purpose == Purpose.STAFF_CONFIRMED and allow_exemption:
            return Decision(True)
        return Decision(False, "quiet_hours", not_before=later)

    return decide


def test_staff_may_confirm_an_exemption_only_where_the_policy_allows_it(
    sign_in: Callable[..., Any], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = dt.datetime(2030, 1, 2, 16, 0, tzinfo=dt.UTC)
    lead_id = make_lead(db, sms_consent=True)
    client = sign_in()
    url = f"/staff/leads/{lead_id}/message?template=patient_checkin&channel=sms"

    monkeypatch.setattr(one_off, "can_contact", quiet_hours(False, later))
    html = client.get(url).get_data(as_text=True)
    assert 'id="later"' in html and 'id="send-now"' not in html
    form = {
        "template": "patient_checkin",
        "channel": "sms",
        "version_id": version_of(html),
        "exempt": "confirmed",
    }
    refused = client.post(f"/staff/leads/{lead_id}/message", data=form, follow_redirects=True)
    assert "no exemption is allowed" in refused.get_data(as_text=True).lower()
    assert staff_messages(db, lead_id) == []

    monkeypatch.setattr(one_off, "can_contact", quiet_hours(True, later))
    html = client.get(url).get_data(as_text=True)
    assert 'id="send-now"' in html and 'name="exempt"' in html
    client.post(f"/staff/leads/{lead_id}/message", data=form)
    with db.session() as session:
        (row,) = session.scalars(sa.select(Message).where(Message.lead_id == lead_id)).all()
        audit = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.kind == "lead.message_sent")
        ).one()
    # Due now, and delivery re-asks the policy under the confirmed purpose.
    assert row.step_key == "staff_confirmed" and row.status == MessageStatus.QUEUED
    assert audit.detail["exempt"] is True and audit.detail["deferred_by"] == "quiet_hours"


def test_delivery_weighs_staff_messages_under_their_own_purposes() -> None:
    lead = Lead(urgent=True)
    assert sequences.purpose_of(lead, "patient", "staff") == Purpose.STAFF_ONE_OFF
    assert sequences.purpose_of(lead, "patient", "staff_confirmed") == Purpose.STAFF_CONFIRMED


def test_a_spanish_leads_preview_is_the_spanish_text_and_says_so(
    sign_in: Callable[..., Any], db: Database
) -> None:
    # Staff see what the patient will get: the lead's language where the template has it.
    lead_id = make_lead(db, sms_consent=True, locale="es")
    client = sign_in()
    url = f"/staff/leads/{lead_id}/message?template=patient_checkin&channel=sms"

    html = client.get(url).get_data(as_text=True)

    assert "Spanish, the patient's language" in html
    assert "Hola, Ana. Somos " in html
    assert "¿Sigue queriendo que le llamemos?" in html
    with db.transaction() as session:
        session.execute(
            sa.delete(Template).where(
                Template.key == "patient_checkin",
                Template.channel == "sms",
                Template.locale == "es",
            )
        )
    fallback = client.get(url).get_data(as_text=True)
    assert "English: this template has no Spanish version yet" in fallback
    assert "Hi Ana, it&#39;s " in fallback


def test_a_template_in_two_languages_is_offered_once(db: Database) -> None:
    with db.session() as session:
        offered = one_off.templates(session)
    assert len(offered) == len(set(offered))
    assert ("patient_checkin", "sms") in offered
