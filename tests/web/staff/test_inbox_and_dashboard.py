"""The inbox's order, badges, filters and live rows; callbacks; the dashboard's figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from intake_service.db import Database, utcnow
from intake_service.domain.compliance.audit import Actor
from intake_service.domain.leads import claims, dashboard
from tests.support import factories


def names_in_order(html: str, names: list[str]) -> list[str]:
    return sorted((n for n in names if n in html), key=html.index)


def test_inbox_orders_urgent_first_then_by_deadline_with_badges_and_hints(
    sign_in: Callable[..., Any], db: Database
) -> None:
    now = utcnow()
    with db.transaction() as session:
        newer = factories.lead(session, first_name="Newer", age=dt.timedelta(minutes=4))
        factories.first_contact_due(session, newer, now + dt.timedelta(minutes=12, seconds=40))
        older = factories.lead(
            session, first_name="Older", age=dt.timedelta(hours=3), submissions=2
        )
        factories.first_contact_due(session, older, now - dt.timedelta(hours=2))
        factories.lead(session, first_name="Urgent", age=dt.timedelta(minutes=1), urgent=True)
        factories.lead(session, first_name="Spammy", status="spam")
        # Not processed yet: no clock, due on arrival, and it says so.
        factories.lead(session, first_name="Pending", age=dt.timedelta(minutes=2))
        # First real contact made: out of the deadline order, and never overdue.
        reached = factories.lead(
            session, first_name="Reached", age=dt.timedelta(days=2), status="contacted"
        )
        factories.first_contact_due(session, reached, now - dt.timedelta(days=1))
    html = sign_in().get("/staff/leads").get_data(as_text=True)
    names = ["Newer", "Older", "Urgent", "Spammy", "Pending", "Reached"]
    assert names_in_order(html, names) == ["Urgent", "Older", "Pending", "Newer", "Reached"]
    assert "4 min ago" in html and "3 h ago" in html
    assert 'class="badge returning"' in html and 'class="badge urgent"' in html
    row = {name: html[html.index(name) :].split("</tr>")[0] for name in names if name in html}
    assert 'class="badge overdue"' in row["Older"] and "First contact was due" in row["Older"]
    assert "due in 12 min" in row["Newer"] and "overdue" not in row["Newer"]
    assert 'data-left="7' in row["Newer"]  # seconds left, for the countdown in staff.js
    assert "awaiting triage" in row["Pending"] and "due in" not in row["Pending"]
    assert "overdue" not in row["Reached"] and "due in" not in row["Reached"]


def test_filters_and_search_remember_themselves(
    sign_in: Callable[..., Any], db: Database, accounts: dict[str, Any]
) -> None:
    with db.transaction() as session:
        mine = factories.lead(session, first_name="Mine", treatment_interest="ketamine")
        factories.lead(session, first_name="Other", phone="+13105550188", email="o@x.example")
        claims.claim(session, mine.id, Actor(accounts["coordinator"][0], "c"), utcnow())
    client = sign_in("coordinator")
    assert "Other" not in client.get("/staff/leads?assignee=mine").get_data(as_text=True)
    remembered = client.get("/staff/leads").get_data(as_text=True)
    assert "Mine" in remembered and "Other" not in remembered
    unassigned = client.get("/staff/leads?assignee=unassigned").get_data(as_text=True)
    assert "Other" in unassigned and "Mine Example" not in unassigned
    assert "Other" in client.get("/staff/leads?q=(310) 555-0188").get_data(as_text=True)
    # Contact points are found whole, by blind index: a fragment of a number finds nothing.
    assert "Other" not in client.get("/staff/leads?q=555-0188").get_data(as_text=True)
    assert "Other" in client.get("/staff/leads?q=O@X.example").get_data(as_text=True)
    by_treatment = client.get("/staff/leads?treatment=ketamine").get_data(as_text=True)
    assert "Mine" in by_treatment and "Other" not in by_treatment
    reset = client.get("/staff/leads?clear=1").get_data(as_text=True)
    assert "Mine" in reset and "Other" in reset
    # Nonsense in the URL falls back to defaults rather than failing.
    assert client.get("/staff/leads?status=x&assignee=../&age=9y").status_code == 200


def test_new_rows_returns_only_leads_since_the_cursor(
    sign_in: Callable[..., Any], db: Database
) -> None:
    with db.transaction() as session:
        factories.lead(session, first_name="Before", age=dt.timedelta(hours=1))
    client = sign_in()
    since = utcnow().isoformat()
    with db.transaction() as session:
        factories.lead(session, first_name="Arrived", age=dt.timedelta(0))
    html = client.get("/staff/leads/new-rows", query_string={"since": since}).get_data(as_text=True)
    assert "Arrived" in html and "Before" not in html
    assert 'id="inbox-poller"' in html and 'hx-swap-oob="true"' in html
    assert client.get("/staff/leads/new-rows?since=yesterday").status_code == 400


def test_callbacks_list_overdue_first(sign_in: Callable[..., Any], db: Database) -> None:
    now = utcnow()
    with db.transaction() as session:
        later = factories.lead(session, first_name="Later")
        late = factories.lead(session, first_name="Late")
        factories.callback(session, later, now + dt.timedelta(hours=2))
        factories.callback(session, late, now - dt.timedelta(minutes=30))
    html = sign_in().get("/staff/callbacks").get_data(as_text=True)
    assert names_in_order(html, ["Later", "Late "]) == ["Late ", "Later"]
    assert "overdue" in html


def test_speed_to_lead_comes_from_events_and_ignores_automatic_messages(db: Database) -> None:
    now = utcnow()
    with db.transaction() as session:
        staff = factories.user(session, "clinician")
        fast = factories.lead(session, age=dt.timedelta(hours=2), source={"utm_source": "google"})
        factories.lead_event(
            session,
            fast,
            "call_logged",
            fast.created_at + dt.timedelta(minutes=3),
            staff,
            outcome="reached",
        )
        slow = factories.lead(session, age=dt.timedelta(hours=3))
        factories.lead_event(
            session,
            slow,
            "call_logged",
            slow.created_at + dt.timedelta(minutes=10),
            staff,
            outcome="voicemail",
        )
        factories.lead_event(
            session,
            slow,
            "status_changed",
            slow.created_at + dt.timedelta(minutes=50),
            staff,
            **{"from": "new", "to": "contacted"},
        )
        never = factories.lead(session, age=dt.timedelta(hours=1))
        factories.message(session, never, "delivered")  # automatic: not contact
        factories.lead(session, status="spam")
    with db.session() as session:
        report = dashboard.report(session, "America/Los_Angeles", now)
    assert report.total == 3
    assert dict(report.buckets) == {"5 min": 1, "15 min": 1, "1 h": 2, "24 h": 2, "never": 1}
    assert dict((k, v) for k, v in report.funnel) == {"Submitted": 3, "Contacted": 2, "Booked": 0}
    contact = [w.contact for w in report.weeks if w.leads]
    assert sum(s.count for s in contact) == 2
    assert ("google", 1) in [(name, n) for name, n, _ in report.by_source]


def test_percentile_is_nearest_rank() -> None:
    values = [dt.timedelta(minutes=m) for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]
    assert dashboard.percentile(values, 0.5) == dt.timedelta(minutes=5)
    assert dashboard.percentile(values, 0.9) == dt.timedelta(minutes=9)
    assert dashboard.percentile([], 0.9) is None


def test_dashboard_page_has_charts_and_tables(sign_in: Callable[..., Any], db: Database) -> None:
    with db.transaction() as session:
        factories.lead(session)
    html = sign_in("clinician").get("/staff/dashboard").get_data(as_text=True)
    assert "<svg" in html and "<table" in html and "Reached within" in html


@pytest.fixture
def pg_db(make_app: Callable[..., Any], pg_url: str) -> Database:
    app = make_app(DATABASE_URL=pg_url)
    database: Database = app.extensions["intake.db"]
    return database


def test_two_claims_at_once_on_postgresql_one_wins(pg_db: Database) -> None:
    import threading

    with pg_db.transaction() as session:
        a, b = factories.user(session, "coordinator"), factories.user(session, "clinician")
        lead_id = factories.lead(session).id
        actors = [Actor(a.id, a.email), Actor(b.id, b.email)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(actor: Actor) -> None:
        with pg_db.transaction() as session:
            barrier.wait()
            outcomes.append(claims.claim(session, lead_id, actor, utcnow()).outcome)

    threads = [threading.Thread(target=run, args=(actor,)) for actor in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(outcomes) == ["lost", "won"]


def test_audit_rows_cannot_be_changed_in_sql_on_postgresql(pg_db: Database) -> None:
    import sqlalchemy as sa

    with pg_db.transaction() as session:
        session.execute(
            sa.text(
                "INSERT INTO audit_events (at, kind, detail) VALUES (now(), 'auth.login', '{}')"
            )
        )
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), pg_db.transaction() as session:
        session.execute(sa.text("DELETE FROM audit_events"))
