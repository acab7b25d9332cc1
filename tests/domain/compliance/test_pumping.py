"""SMS-pumping defence: foreign, premium and landline numbers, caps, and a surge's pause."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.domain import intake
from intake_service.domain.compliance import pumping
from intake_service.domain.compliance.policy import Purpose, can_contact
from intake_service.domain.templates.message_context import reference
from intake_service.models import Lead, SmsPause
from tests.domain.builders import (
    database,
    messages_of,
    process,
    process_and_deliver,
    submission,
)
from tests.support import factories

TEAM = "team@clinic.example"


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    return backend_url  # the counts behind the caps and the surge are upserts of each dialect


@pytest.fixture
def make(ready_app: Callable[..., Flask]) -> Callable[..., Flask]:
    def build(**overrides: Any) -> Flask:
        return ready_app(TEAM_EMAILS=TEAM, **overrides)

    return build


def submit_with_phone(app: Flask, phone: str) -> uuid.UUID:
    # A new email each time: the same one twice would be one returning lead.
    email = f"{uuid.uuid4().hex[:10]}@patients.example"
    who = intake.Contact(first_name="Pat", last_name="Lee", email=email, phone=phone)
    return intake.submit(database(app), submission(contact=who)).lead_id


def planned(app: Flask, lead_id: uuid.UUID) -> set[tuple[str, str, str]]:
    return {(m.audience, m.channel, m.template_key) for m in messages_of(database(app), lead_id)}


def decide(app: Flask, lead_id: uuid.UUID, channel: str) -> Any:
    with database(app).session() as session:
        lead = session.get_one(Lead, lead_id)
        return can_contact(session, lead, channel, Purpose.FIRST_CONTACT, dt.datetime.now(dt.UTC))


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("+33612345678", "sms_country_not_allowed"),  # a French mobile
        ("+19005551234", "sms_premium_rate"),  # a US 900 number
        ("+442079460958", "sms_country_not_allowed"),
    ],
)
def test_a_foreign_or_premium_number_is_refused_for_texts_but_kept_for_email(
    make: Callable[..., Flask], phone: str, reason: str
) -> None:
    app = make()
    lead_id = submit_with_phone(app, phone)
    sms = decide(app, lead_id, "sms")
    assert (sms.allowed, sms.reason, sms.other_channel) == (False, reason, True)
    assert decide(app, lead_id, "email").allowed
    process(app, lead_id)
    kinds = {(audience, channel) for audience, channel, _ in planned(app, lead_id)}
    assert ("patient", "email") in kinds
    assert ("patient", "sms") not in kinds


def test_us_and_canadian_mobiles_are_texted_and_other_countries_can_be_allowed(
    make: Callable[..., Flask],
) -> None:
    app = make()
    for phone in ("+12133734253", "+14165550123"):
        assert decide(app, submit_with_phone(app, phone), "sms").allowed
    french = make(SMS_ALLOWED_COUNTRIES="us, fr")
    assert decide(french, submit_with_phone(french, "+33612345678"), "sms").allowed


def test_a_landline_where_the_country_tells_is_refused(make: Callable[..., Flask]) -> None:
    app = make(SMS_ALLOWED_COUNTRIES="GB")
    assert decide(app, submit_with_phone(app, "+442079460958"), "sms").reason == "sms_not_mobile"


def test_the_per_prefix_daily_cap_refuses_the_next_text(make: Callable[..., Flask]) -> None:
    app = make(SMS_DAILY_CAP_PER_PREFIX="2")
    db = database(app)
    for n in range(2):
        other = factories.lead(db, phone=f"+1213555010{n}")
        factories.message(db, other, "sent")
    lead_id = submit_with_phone(app, "+12135550199")
    sms = decide(app, lead_id, "sms")
    assert (sms.allowed, sms.reason) == (False, "sms_prefix_daily_cap")
    assert decide(app, submit_with_phone(app, "+13105550123"), "sms").allowed  # another prefix


def test_the_per_number_daily_cap_counts_only_the_last_day(make: Callable[..., Flask]) -> None:
    app = make(SMS_DAILY_CAP_PER_NUMBER="1")
    db = database(app)
    lead_id = submit_with_phone(app, "+13105550123")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    factories.message(db, lead_id, "sent", due_at=old)
    assert decide(app, lead_id, "sms").allowed
    factories.message(db, lead_id, "delivered")
    assert decide(app, lead_id, "sms").reason == "sms_number_daily_cap"


def test_a_surge_to_one_prefix_pauses_it_and_tells_the_team_once(
    make: Callable[..., Flask],
) -> None:
    app = make(SMS_SURGE_MIN_PER_HOUR="3")
    db = database(app)
    for n in range(3):
        factories.message(db, factories.lead(db, phone=f"+1900555000{n}"), "planned")
        factories.message(db, factories.lead(db, phone=f"+1213555000{n}"), "sent")

    first = submit_with_phone(app, "+12135550150")
    process(app, first)
    with db.session() as session:
        pauses = {(p.scope, p.value) for p in session.scalars(sa.select(SmsPause))}
    assert pauses == {("prefix", "+1213"), ("country", "+1")}
    assert ("team", "email", pumping.TEMPLATE) in planned(app, first)
    assert ("patient", "sms", "patient_first_reply") not in planned(app, first)
    assert ("patient", "email", "patient_first_reply") in planned(app, first)

    second = submit_with_phone(app, "+12135550151")
    process(app, second)
    assert ("team", "email", pumping.TEMPLATE) not in planned(app, second)  # told once
    assert decide(app, second, "sms").reason == "sms_paused"

    with db.transaction() as session:
        pumping.lift(session, "prefix", "+1213", "admin@clinic.example", dt.datetime.now(dt.UTC))
        pumping.lift(session, "country", "+1", "admin@clinic.example", dt.datetime.now(dt.UTC))
    assert decide(app, second, "sms").allowed


def test_the_pause_alert_renders_and_names_no_person(make: Callable[..., Flask]) -> None:
    app = make(SMS_SURGE_MIN_PER_HOUR="1")
    db = database(app)
    factories.message(db, factories.lead(db, phone="+13105550100"), "sent")
    lead_id = submit_with_phone(app, "+13105550123")
    process_and_deliver(app, lead_id)
    (alert,) = [m for m in messages_of(db, lead_id) if m.template_key == pumping.TEMPLATE]
    assert alert.status == "sent"
    # The subject names the triggering lead by reference only, never by name.
    assert alert.subject == f"Texting paused: possible SMS pumping (ref {reference(lead_id)})"
    assert "prefix +1310" in (alert.body_text or "")
    assert "Pat" not in (alert.body_text or "")
