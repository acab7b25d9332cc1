"""Routing rules as data: the first matching rule's queue, round-robin skipping who is off."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.leads.routing import _hour_matches
from intake_service.models import QueueMember, RoutingQueue, RoutingRule
from tests.domain.builders import (
    database,
    lead_row,
    messages_of,
    process,
    process_and_deliver,
    submit,
)
from tests.support import factories

DEFAULT_TEAM = "team@clinic.example"


@pytest.fixture
def app(ready_app: Callable[..., Flask]) -> Flask:
    return ready_app(TEAM_EMAILS=DEFAULT_TEAM)


def make_queue(
    db: Database, name: str, members: int, emails: str = "", **rule: Any
) -> dict[str, Any]:
    users = [factories.user(db, role="clinician") for _ in range(members)]
    with db.transaction() as session:
        queue = RoutingQueue(name=name, emails=emails)
        queue.members = [QueueMember(user_id=u.id, position=i) for i, u in enumerate(users)]
        session.add(queue)
        session.flush()
        session.add(RoutingRule(queue_id=queue.id, position=rule.pop("position", 0), **rule))
        return {"id": queue.id, "users": [u.id for u in users]}


def fresh(app: Flask, **changes: Any) -> uuid.UUID:
    """A lead from someone new (the same contact twice would be one returning lead)."""
    who = intake.Contact(first_name="Ana", email=f"{uuid.uuid4().hex[:10]}@patients.example")
    return submit(app, contact=who, sms_consent=False, **changes)


def routed(app: Flask, **changes: Any) -> uuid.UUID:
    lead_id = fresh(app, **changes)
    process(app, lead_id)
    return lead_id


def test_round_robin_skips_a_member_who_is_off(app: Flask) -> None:
    db = database(app)
    queue = make_queue(db, "TMS", 3, treatment="tms")
    with db.transaction() as session:
        member = session.query(QueueMember).filter_by(user_id=queue["users"][1]).one()
        member.off = True
    assignees = [lead_row(db, routed(app, treatment_interest="tms")).assignee_id for _ in range(4)]
    first, _, third = queue["users"]
    assert assignees == [first, third, first, third]


def test_the_team_email_goes_to_the_queue_and_names_the_assignee(app: Flask) -> None:
    db = database(app)
    queue = make_queue(db, "Ketamine", 1, emails="ket@clinic.example", treatment="ketamine")
    lead_id = fresh(app, treatment_interest="ketamine")
    process_and_deliver(app, lead_id)
    (team,) = [m for m in messages_of(db, lead_id) if m.audience == "team"]
    assert team.recipient == "ket@clinic.example"
    assert lead_row(db, lead_id).queue_id == queue["id"]
    assert "Assigned to: Clinician" in (team.body_text or "")


def test_a_queue_without_listed_addresses_mails_its_members(app: Flask) -> None:
    db = database(app)
    make_queue(db, "TMS", 2, treatment="tms")
    lead_id = routed(app)
    recipients = sorted(m.recipient for m in messages_of(db, lead_id) if m.audience == "team")
    assert len(recipients) == 2 and all(r.startswith("clinician") for r in recipients)


def test_rules_match_by_priority_source_and_time_of_day(app: Flask) -> None:
    db = database(app)
    night = make_queue(db, "Night", 1, emails="night@clinic.example", hour_from=0, hour_to=0)
    google = make_queue(db, "Google", 1, emails="ads@clinic.example", source="google", position=-1)
    lead_id = routed(app, source={"utm_source": "Google"})
    assert lead_row(db, lead_id).queue_id == google["id"]
    # hour_from == hour_to: a zero-length window, never matched: the next rule is the night one
    other = routed(app, source={"utm_source": "bing"})
    assert lead_row(db, other).queue_id is None
    assert night["id"] != google["id"]


def test_the_evening_rule_wraps_past_midnight(app: Flask) -> None:
    rule = RoutingRule(hour_from=18, hour_to=8)
    assert [h for h in range(24) if _hour_matches(rule, h)] == [*range(0, 8), *range(18, 24)]


def test_nothing_routes_to_nobody(app: Flask) -> None:
    db = database(app)
    queue = make_queue(db, "Empty", 1, priority="urgent")
    with db.transaction() as session:
        session.query(QueueMember).delete()
    # No rule matches a normal lead: the default team, unassigned.
    lead_id = routed(app)
    assert lead_row(db, lead_id).queue_id is None
    team = [m.recipient for m in messages_of(db, lead_id) if m.audience == "team"]
    assert team == [DEFAULT_TEAM]
    assert queue["id"]


def test_a_lead_is_routed_once_however_often_it_is_processed(app: Flask) -> None:
    db = database(app)
    queue = make_queue(db, "TMS", 2, treatment="tms")
    lead_id = routed(app)
    process(app, lead_id)
    assert lead_row(db, lead_id).assignee_id == queue["users"][0]
    assert lead_row(db, routed(app)).assignee_id == queue["users"][1]
