"""/admin/routing: queues, members and rules edited by an admin decide where the next lead goes;
every refusal stores nothing, every change is audited, and no change can route a lead to nobody."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.models import AuditEvent, QueueMember, RoutingQueue, RoutingRule
from tests.domain.builders import lead_row, messages_of, process, submit
from tests.support import factories
from tests.web.admin.conftest import csrf_token_of

DEFAULT_TEAM = "team@sunrise.example"


def flashes(client: Any, response: Any) -> list[str]:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    found = re.findall(r'<p class="flash[^"]*">([^<]*)</p>', page)
    return [html.unescape(" ".join(m.split())) for m in found]


def do(client: Any, url: str, data: dict[str, Any] | None = None) -> list[str]:
    """Post as a browser does and follow the redirect: the flashed messages of this change."""
    return flashes(client, client.post(url, data=data or {}))


def routed(app: Flask, **changes: Any) -> uuid.UUID:
    """A new person's lead (TMS self-screen, strong candidate), submitted and processed."""
    who = intake.Contact(first_name="Ana", email=f"{uuid.uuid4().hex[:10]}@patients.example")
    lead_id = submit(app, contact=who, sms_consent=False, **changes)
    process(app, lead_id)
    return lead_id


def clinicians(db: Database, count: int) -> list[int]:
    with db.transaction() as session:
        return [factories.user(session, "clinician").id for _ in range(count)]


def state(db: Database) -> tuple[Any, ...]:
    """Everything routing stores, and the audit trail's length: unchanged by any refusal."""
    with db.session() as session:
        queues = [
            (q.id, q.name, q.emails, q.lead_user_id)
            for q in session.scalars(sa.select(RoutingQueue))
        ]
        members = [(m.id, m.user_id, m.off) for m in session.scalars(sa.select(QueueMember))]
        rules = [
            (
                r.id,
                r.position,
                r.queue_id,
                r.treatment,
                r.priority,
                r.source,
                r.hour_from,
                r.hour_to,
                r.active,
            )
            for r in session.scalars(sa.select(RoutingRule))
        ]
        audited = session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.kind == "routing.changed")
        )
        return queues, members, rules, audited


def routing_events(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.kind == "routing.changed")
            .order_by(AuditEvent.id)
        )
        return [{"actor": r.actor_email, **r.detail} for r in rows]


def queue_with_members(admin: Any, db: Database, name: str, users: list[int]) -> int:
    do(admin, "/admin/routing/queues", data={"name": name, "emails": ""})
    with db.session() as session:
        db_id = session.scalars(sa.select(RoutingQueue.id).filter_by(name=name)).one()
    for user_id in users:
        do(admin, f"/admin/routing/queues/{db_id}/members", data={"user_id": str(user_id)})
    return db_id


def rule_ids(db: Database) -> list[int]:
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(RoutingRule.id).order_by(RoutingRule.position, RoutingRule.id)
            )
        )


def test_the_page_lists_queues_members_and_rules_and_says_when_a_change_applies(
    admin: Any, loaded: Database
) -> None:
    page = admin.get("/admin/routing").get_data(as_text=True)
    assert "A change applies to leads routed after it." in page
    assert "No catch-all rule" in page and DEFAULT_TEAM in page
    users = clinicians(loaded, 1)
    queue = queue_with_members(admin, loaded, "TMS", users)
    do(
        admin,
        "/admin/routing/rules",
        data={"queue_id": queue, "treatment": "tms", "hour_from": "18", "hour_to": "8"},
    )
    page = admin.get("/admin/routing").get_data(as_text=True)
    assert "TMS, arriving 18:00-08:00 clinic time" in page
    assert 'id="queue-' in page and "1 on duty" in page
    assert "America/Los_Angeles" in page


def test_edits_change_where_the_next_lead_goes(app: Flask, admin: Any, loaded: Database) -> None:
    first, second, evening = clinicians(loaded, 3)
    tms = queue_with_members(admin, loaded, "TMS", [first, second])
    other = queue_with_members(admin, loaded, "Everyone", [evening])
    messages = do(admin, "/admin/routing/rules", data={"queue_id": tms, "treatment": "tms"})
    assert "It applies to leads routed from now on" in messages[0]
    # Leads of other treatments match no rule: the page keeps saying so.
    assert "No catch-all rule" in admin.get("/admin/routing").get_data(as_text=True)

    lead = lead_row(loaded, routed(app))
    assert (lead.queue_id, lead.assignee_id) == (tms, first)
    # Round-robin: the next lead goes to the next member; marked off, they are skipped.
    with loaded.session() as session:
        second_member = session.scalars(sa.select(QueueMember).filter_by(user_id=second)).one()
    do(admin, f"/admin/routing/members/{second_member.id}/off", data={"off": "1"})
    assert lead_row(loaded, routed(app)).assignee_id == first

    # A catch-all moved above the TMS rule takes every lead from now on.
    do(admin, "/admin/routing/rules", data={"queue_id": other})
    catch_all = rule_ids(loaded)[-1]
    messages = do(admin, f"/admin/routing/rules/{catch_all}/move", data={"direction": "up"})
    assert messages[0].startswith("Rule moved.")
    assert rule_ids(loaded)[0] == catch_all
    assert "matches every lead, so the rules after it (2) are never used" in admin.get(
        "/admin/routing"
    ).get_data(as_text=True)
    assert lead_row(loaded, routed(app)).assignee_id == evening

    # Disabled, the catch-all no longer routes; the warning says where unmatched leads go.
    messages = do(admin, f"/admin/routing/rules/{catch_all}/active", data={"active": "0"})
    assert (
        messages[0].startswith("Rule disabled.")
        and "Saved, with a warning: No catch-all" in messages[1]
    )
    lead = lead_row(loaded, routed(app, treatment_interest="ketamine"))
    assert (lead.queue_id, lead.assignee_id) == (None, None)
    team = [m.recipient for m in messages_of(loaded, lead.id) if m.audience == "team"]
    assert team == [DEFAULT_TEAM]  # the engine's fallback: never nobody

    # An edited rule: TMS leads now go to the other queue.
    tms_rule = rule_ids(loaded)[1]
    do(admin, f"/admin/routing/rules/{tms_rule}", data={"queue_id": other, "treatment": "tms"})
    assert lead_row(loaded, routed(app)).queue_id == other


def test_every_change_is_audited_with_before_and_after(admin: Any, loaded: Database) -> None:
    (user,) = clinicians(loaded, 1)
    queue = queue_with_members(admin, loaded, "Evenings", [user])
    do(admin, "/admin/routing/rules", data={"queue_id": queue, "hour_from": "18", "hour_to": "8"})
    rule = rule_ids(loaded)[0]
    do(
        admin,
        f"/admin/routing/rules/{rule}",
        data={"queue_id": queue, "hour_from": "17", "hour_to": "8"},
    )
    do(
        admin,
        f"/admin/routing/queues/{queue}",
        data={"emails": "evenings@clinic.example", "lead_user_id": str(user)},
    )
    events = routing_events(loaded)
    assert [e["change"] for e in events] == [
        "queue_added", "member_added", "rule_added", "rule_changed", "queue_changed",
    ]  # fmt: skip
    assert all(e["actor"] == "admin@clinic.example" for e in events)
    changed = events[3]
    assert (changed["before"]["hour_from"], changed["after"]["hour_from"]) == (18, 17)
    assert changed["rule_id"] == rule
    assert events[4]["after"] == {"emails": "evenings@clinic.example", "lead_user_id": user}


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"queue_id": "9999"}, "Choose a queue that exists"),
        (
            {"queue_id": "QUEUE", "hour_from": "25", "hour_to": "8"},
            "whole hours of the clinic's day",
        ),
        ({"queue_id": "QUEUE", "hour_from": "18"}, "Give both hours"),
        ({"queue_id": "QUEUE", "hour_from": "9", "hour_to": "9"}, "would never match"),
        ({"queue_id": "QUEUE", "hour_from": "nine", "hour_to": "5"}, "whole hours"),
        ({"queue_id": "QUEUE", "treatment": "homeopathy"}, "not a treatment"),
        ({"queue_id": "QUEUE", "priority": "vip"}, "Priority must be one of"),
        ({"queue_id": "EMPTY"}, "is empty: it has no members and no email address"),
    ],
)
def test_a_refused_rule_stores_nothing_and_says_why(
    admin: Any, loaded: Database, form: dict[str, str], words: str
) -> None:
    queue = queue_with_members(admin, loaded, "TMS", clinicians(loaded, 1))
    empty = queue_with_members(admin, loaded, "Nobody yet", [])
    before = state(loaded)
    data = {
        **form,
        "queue_id": form["queue_id"].replace("EMPTY", str(empty)).replace("QUEUE", str(queue)),
    }
    messages = do(admin, "/admin/routing/rules", data=data)
    assert messages[0].startswith("Not changed:") and words in messages[0], messages
    assert state(loaded) == before


def test_refused_queue_and_member_changes_store_nothing(admin: Any, loaded: Database) -> None:
    (user,) = clinicians(loaded, 1)
    queue = queue_with_members(admin, loaded, "TMS", [user])
    do(admin, "/admin/routing/rules", data={"queue_id": queue})
    with loaded.session() as session:
        member = session.scalars(sa.select(QueueMember)).one().id
    before = state(loaded)
    refusals = [
        ("/admin/routing/queues", {"name": "tms"}, "already a queue called"),
        ("/admin/routing/queues", {"name": "  "}, "Give the queue a name"),
        (
            "/admin/routing/queues",
            {"name": "Night", "emails": "not an address"},
            "is not an email address",
        ),
        (f"/admin/routing/queues/{queue}/members", {"user_id": str(user)}, "already in"),
        (f"/admin/routing/queues/{queue}/members", {"user_id": "9999"}, "active staff account"),
        (
            f"/admin/routing/queues/{queue}",
            {"emails": "", "lead_user_id": "9999"},
            "active staff account",
        ),
        # The last member of a queue a rule uses: the queue would tell nobody.
        (
            f"/admin/routing/members/{member}/remove",
            {},
            "would be empty while rule 1 sends leads to it",
        ),
        ("/admin/routing/rules/9999/active", {"active": "1"}, "no rule #9999"),
        (
            f"/admin/routing/rules/{rule_ids(loaded)[0]}/move",
            {"direction": "sideways"},
            "up or down",
        ),
    ]
    for url, data, words in refusals:
        messages = do(admin, url, data=data)
        assert messages[0].startswith("Not changed:") and words in messages[0], (url, messages)
    assert state(loaded) == before
    # With an address to tell, the last member may go.
    do(admin, f"/admin/routing/queues/{queue}", data={"emails": "tms@clinic.example"})
    assert do(admin, f"/admin/routing/members/{member}/remove")[0].startswith("Member removed")


def test_a_post_without_the_csrf_token_is_refused_and_stores_nothing(
    strict_sign_in: Callable[..., Any], strict_app: Flask
) -> None:
    client = strict_sign_in("admin")
    db: Database = strict_app.extensions["intake.db"]
    assert client.post("/admin/routing/queues", data={"name": "TMS"}).status_code == 400
    assert state(db)[0] == []
    token = csrf_token_of(client.get("/admin/routing").get_data(as_text=True))
    response = client.post("/admin/routing/queues", data={"name": "TMS", "csrf_token": token})
    assert response.status_code == 303 and len(state(db)[0]) == 1
