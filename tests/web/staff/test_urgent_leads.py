"""Urgent leads in the staff app: on top until acknowledged, acknowledged from the lead page,
and the crisis words marked in what the patient wrote."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from intake_service.db import Database, utcnow
from intake_service.domain.leads.detail import highlight
from intake_service.models import AuditEvent, Lead, LeadEvent, UrgentPage
from tests.support import factories

CRISIS = [{"rule": "ideation", "category": "ideation", "words": "K1ll myself", "negated": False}]


def urgent_lead(db: Database, **fields: Any) -> uuid.UUID:
    with db.transaction() as session:
        lead = factories.lead(
            session,
            first_name="Urgent",
            message="Some days I want to k1ll myself. <script>x</script> I want to K1LL MYSELF",
            urgent=True,
            triage={"priority": "high", "crisis": CRISIS, "crisis_version": "crisis-1"},
            **fields,
        )
        session.add(
            UrgentPage(lead_id=lead.id, round=2, due_at=utcnow() + dt.timedelta(minutes=10))
        )
        return lead.id


def order(html: str) -> list[str]:
    return [part.split("<", 1)[0] for part in html.split('class="open" href=')[1:]]


def test_unacknowledged_urgent_leads_sit_on_top_with_a_badge_until_acknowledged(
    sign_in: Callable[..., Any], db: Database
) -> None:
    with db.transaction() as session:
        factories.lead(session, first_name="Older", age=dt.timedelta(hours=3))
        acked = factories.lead(session, first_name="Taken", age=dt.timedelta(hours=2), urgent=True)
        acked.acknowledged_at = utcnow()
        acked.acknowledged_by = "dr@clinic.example"
    lead_id = urgent_lead(db, age=dt.timedelta(minutes=1))
    client = sign_in()
    html = client.get("/staff/leads?status=all").get_data(as_text=True)
    names = order(html)
    assert "Urgent" in names[0]
    assert "Taken" in names[1] and "Older" in names[2]
    assert 'class="badge urgent">urgent<' in html
    assert 'class="badge acknowledged">urgent, acknowledged<' in html

    page = client.get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    assert 'id="acknowledge"' in page
    response = client.post(f"/staff/leads/{lead_id}/acknowledge", follow_redirects=True)
    assert response.status_code == 200
    after = response.get_data(as_text=True)
    assert "Nobody else is paged" in after and 'id="acknowledge"' not in after
    assert "acknowledged by coordinator@clinic.example" in after
    assert "Urgent lead acknowledged" in after  # on the timeline

    with db.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert lead.acknowledged_by == "coordinator@clinic.example"
        pages = session.scalars(sa.select(UrgentPage).where(UrgentPage.lead_id == lead_id)).all()
        assert [p.outcome for p in pages] == ["acknowledged"]
        kinds = session.scalars(
            sa.select(AuditEvent.kind).where(AuditEvent.lead_id == lead_id)
        ).all()
        assert "lead.acknowledged" in kinds
        (event,) = session.scalars(
            sa.select(LeadEvent).where(
                LeadEvent.lead_id == lead_id, LeadEvent.kind == "acknowledged"
            )
        ).all()
        assert event.data["via"] == "staff_app" and event.actor_id is not None

    inbox = client.get("/staff/leads?status=all").get_data(as_text=True)
    assert 'class="badge urgent">urgent<' not in inbox
    # The second acknowledgement is told, and the first one stands.
    again = client.post(f"/staff/leads/{lead_id}/acknowledge", follow_redirects=True)
    assert "already acknowledged" in again.get_data(as_text=True)


def test_acknowledge_needs_a_known_lead_and_a_signed_in_user(
    sign_in: Callable[..., Any], app: Any
) -> None:
    assert sign_in().post(f"/staff/leads/{uuid.uuid4()}/acknowledge").status_code == 404
    anonymous = app.test_client().post(f"/staff/leads/{uuid.uuid4()}/acknowledge")
    assert anonymous.status_code in (302, 303, 401)


def test_crisis_words_are_marked_in_the_free_text_and_the_rest_stays_escaped(
    sign_in: Callable[..., Any], db: Database
) -> None:
    lead_id = urgent_lead(db)
    html = sign_in("clinician").get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    assert html.count('<mark class="crisis">k1ll myself</mark>') == 1
    assert '<mark class="crisis">K1LL MYSELF</mark>' in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    assert "Crisis words:" in html


def test_highlight_cuts_text_into_marked_pieces() -> None:
    assert highlight("no words here", []) == [("no words here", False)]
    assert highlight("I want to die. DIE", ["die"]) == [
        ("I want to ", False),
        ("die", True),
        (". ", False),
        ("DIE", True),
    ]
    # Longest first: the longer phrase wins over a word inside it.
    assert highlight("kill myself", ["kill myself", "kill"]) == [("kill myself", True)]
