"""The lead page and every action on it, through the test client."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from intake_service.db import Database, utcnow
from intake_service.models import AuditEvent, CallbackRequest, Lead, LeadEvent, Message
from tests.support import factories


def make_lead(db: Database, **fields: Any) -> uuid.UUID:
    with db.transaction() as session:
        return factories.lead(session, **fields).id


def lead_row(db: Database, lead_id: uuid.UUID) -> Lead:
    with db.session() as session:
        return session.get_one(Lead, lead_id)


def events_of(db: Database, lead_id: uuid.UUID) -> list[LeadEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
            )
        )


def audit_kinds(db: Database, lead_id: uuid.UUID) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(AuditEvent.kind)
                .where(AuditEvent.lead_id == lead_id)
                .order_by(AuditEvent.id)
            )
        )


def test_lead_page_shows_contact_triage_answers_and_messages_and_audits_the_view(
    sign_in: Callable[..., Any], db: Database
) -> None:
    with db.transaction() as session:
        lead = factories.lead(
            session,
            first_name="Ana",
            message="Evenings <b>please</b>",
            sms_consent=True,
            answers={"struggles_with_depression_ocd_anxiety": True, "tried_antidepressants": True},
            triage={"priority": "high", "candidacy": "likely", "reasons": ["core_tms_indication"]},
        )
        factories.message(session, lead, "failed", last_error="21211: invalid To number")
        lead_id = lead.id
    page = sign_in("clinician").get(f"/staff/leads/{lead_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Ana Example" in html and "core tms indication" in html
    assert "Evenings &lt;b&gt;please&lt;/b&gt;" in html
    assert "I struggle with depression, OCD or anxiety." in html
    assert "21211: invalid To number" in html and "failed" in html
    assert "Opted in to texts" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert audit_kinds(db, lead_id) == ["lead.viewed"]


def test_unknown_or_malformed_lead_ids_are_404(sign_in: Callable[..., Any]) -> None:
    client = sign_in()
    assert client.get(f"/staff/leads/{uuid.uuid4()}").status_code == 404
    assert client.get("/staff/leads/not-a-uuid").status_code == 404
    assert client.post(f"/staff/leads/{uuid.uuid4()}/claim").status_code == 404


def test_claim_takes_an_unassigned_lead_and_the_second_claimer_is_told(
    sign_in: Callable[..., Any], db: Database, accounts: dict[str, Any]
) -> None:
    lead_id = make_lead(db)
    first, second = sign_in("coordinator"), sign_in("clinician")
    assert first.post(f"/staff/leads/{lead_id}/claim").status_code == 303
    lost = second.post(f"/staff/leads/{lead_id}/claim", follow_redirects=True)
    assert "Coordinator" in lost.get_data(as_text=True)
    assert "has already claimed this lead" in lost.get_data(as_text=True)
    assert lead_row(db, lead_id).assignee_id == accounts["coordinator"][0]
    assert [e.kind for e in events_of(db, lead_id)] == ["claimed"]
    assert "lead.claim_lost" in audit_kinds(db, lead_id)


def test_assign_and_unassign(
    sign_in: Callable[..., Any], db: Database, accounts: dict[str, Any]
) -> None:
    lead_id = make_lead(db)
    client = sign_in("admin")
    clinician = accounts["clinician"][0]
    client.post(f"/staff/leads/{lead_id}/assign", data={"user_id": str(clinician)})
    assert lead_row(db, lead_id).assignee_id == clinician
    client.post(f"/staff/leads/{lead_id}/assign", data={"user_id": ""})
    assert lead_row(db, lead_id).assignee_id is None
    assert [e.data for e in events_of(db, lead_id)] == [
        {"from": None, "to": clinician},
        {"from": clinician, "to": None},
    ]
    bad = client.post(f"/staff/leads/{lead_id}/assign", data={"user_id": "99999"})
    assert bad.status_code == 303
    assert client.post(f"/staff/leads/{lead_id}/assign", data={"user_id": "x"}).status_code == 400


def test_reaching_the_patient_marks_contacted_and_stops_follow_up(
    sign_in: Callable[..., Any], db: Database
) -> None:
    with db.transaction() as session:
        lead = factories.lead(session)
        planned = factories.message(session, lead, "planned", step_key="day1")
        team = factories.message(
            session,
            lead,
            "planned",
            audience="team",
            channel="email",
            recipient="team@clinic.example",
            template_key="team_new_lead",
        )
        lead_id, planned_id, team_id = lead.id, planned.id, team.id
        factories.callback(session, lead, utcnow() + dt.timedelta(hours=1))
    client = sign_in()
    response = client.post(
        f"/staff/leads/{lead_id}/calls", data={"outcome": "reached", "note": "Booked a consult"}
    )
    assert response.status_code == 303
    row = lead_row(db, lead_id)
    assert row.status == "contacted" and row.sequence_stop_reason == "contacted"
    with db.session() as session:
        assert session.get_one(Message, planned_id).status == "cancelled"
        assert session.get_one(Message, team_id).status == "planned"
        assert session.scalar(sa.select(CallbackRequest.completed_at)) is not None
        stored = session.execute(sa.text("SELECT note FROM lead_events WHERE kind='call_logged'"))
        assert "Booked" not in stored.scalar_one()  # encrypted at rest
    kinds = [e.kind for e in events_of(db, lead_id)]
    assert kinds == ["call_logged", "status_changed"]
    html = client.get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    assert "Call: Reached the patient" in html and "Booked a consult" in html


def test_voicemail_keeps_follow_up_and_wrong_number_blocks_texts(
    sign_in: Callable[..., Any], db: Database
) -> None:
    lead_id = make_lead(db)
    client = sign_in()
    client.post(f"/staff/leads/{lead_id}/calls", data={"outcome": "voicemail"})
    assert lead_row(db, lead_id).sequence_stopped_at is None
    assert lead_row(db, lead_id).status == "new"
    client.post(f"/staff/leads/{lead_id}/calls", data={"outcome": "wrong_number"})
    assert lead_row(db, lead_id).phone_status == "wrong_number"
    assert (
        client.post(f"/staff/leads/{lead_id}/calls", data={"outcome": "shouted"}).status_code == 400
    )


def test_notes_are_added_encrypted_and_audited_without_their_text(
    sign_in: Callable[..., Any], db: Database
) -> None:
    lead_id = make_lead(db)
    client = sign_in()
    client.post(f"/staff/leads/{lead_id}/notes", data={"note": "Prefers Spanish"})
    assert client.post(f"/staff/leads/{lead_id}/notes", data={"note": ""}).status_code == 400
    (event,) = events_of(db, lead_id)
    assert event.kind == "note_added" and event.note == "Prefers Spanish"
    with db.session() as session:
        details = session.scalars(sa.select(AuditEvent.detail)).all()
    assert "Spanish" not in repr(details)


def test_schedule_a_callback_in_the_clinic_zone(sign_in: Callable[..., Any], db: Database) -> None:
    lead_id = make_lead(db)
    client = sign_in()
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date()
    response = client.post(
        f"/staff/leads/{lead_id}/callbacks", data={"day": tomorrow.isoformat(), "time": "10:30"}
    )
    assert response.status_code == 303
    with db.session() as session:
        callback = session.scalars(sa.select(CallbackRequest)).one()
    local = callback.due_at.astimezone(dt.timezone(dt.timedelta(hours=-8)))
    assert (local.hour, local.minute) in ((10, 30), (11, 30))  # PST or PDT
    past = client.post(
        f"/staff/leads/{lead_id}/callbacks",
        data={"day": "2020-01-01", "time": "10:00"},
        follow_redirects=True,
    )
    assert "already passed" in past.get_data(as_text=True)
    listing = client.get("/staff/callbacks").get_data(as_text=True)
    assert "Pat" in listing
    client.post(f"/staff/callbacks/{callback.id}/done")
    assert "No callbacks are waiting" in client.get("/staff/callbacks").get_data(as_text=True)
    assert [e.kind for e in events_of(db, lead_id)] == ["callback_scheduled", "callback_done"]


def test_mark_booked_closed_spam_and_unspam(sign_in: Callable[..., Any], db: Database) -> None:
    lead_id = make_lead(db)
    client = sign_in()
    client.post(f"/staff/leads/{lead_id}/status", data={"mark": "contacted"})
    client.post(f"/staff/leads/{lead_id}/status", data={"mark": "spam"})
    assert lead_row(db, lead_id).status == "spam"
    client.post(f"/staff/leads/{lead_id}/status", data={"mark": "unspam"})
    assert lead_row(db, lead_id).status == "contacted"
    client.post(f"/staff/leads/{lead_id}/status", data={"mark": "booked"})
    client.post(f"/staff/leads/{lead_id}/status", data={"mark": "closed"})
    assert lead_row(db, lead_id).status == "closed"
    assert (
        client.post(f"/staff/leads/{lead_id}/status", data={"mark": "deleted"}).status_code == 400
    )
    transitions = [(e.data["from"], e.data["to"]) for e in events_of(db, lead_id)]
    assert transitions == [
        ("new", "contacted"),
        ("contacted", "spam"),
        ("spam", "contacted"),
        ("contacted", "booked"),
        ("booked", "closed"),
    ]


def test_timeline_filters_by_kind_and_order(sign_in: Callable[..., Any], db: Database) -> None:
    lead_id = make_lead(db)
    client = sign_in()
    client.post(f"/staff/leads/{lead_id}/notes", data={"note": "First note"})
    client.post(f"/staff/leads/{lead_id}/calls", data={"outcome": "no_answer"})
    calls_only = client.get(f"/staff/leads/{lead_id}?kind=call").get_data(as_text=True)
    timeline = calls_only.split('id="timeline"')[1]
    assert "Call: No answer" in timeline and "First note" not in timeline
    oldest = client.get(f"/staff/leads/{lead_id}?order=oldest").get_data(as_text=True)
    section = oldest.split('id="timeline"')[1]
    assert section.index("Contact form") < section.index("First note") < section.index("No answer")


def test_audit_rows_cannot_be_changed_through_the_orm(
    db: Database, sign_in: Callable[..., Any]
) -> None:
    import pytest

    from intake_service.models.audit import AuditIsAppendOnly

    sign_in()
    with pytest.raises(AuditIsAppendOnly), db.transaction() as session:
        event = session.scalars(sa.select(AuditEvent)).first()
        assert event is not None
        event.kind = "auth.logout"
