"""The one contact policy: what it decides for each purpose, and that planning, delivery,
fallbacks and an operator's retry all follow it."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.compliance import policy
from intake_service.domain.compliance.consent import record_opt_out
from intake_service.domain.compliance.policy import Decision, Purpose, can_contact
from intake_service.domain.leads import status as leads
from intake_service.domain.outreach import dead_letters
from intake_service.models import Lead, MessageStatus
from tests.domain.builders import (
    PATIENT_EMAIL,
    attempts_of,
    database,
    deliver,
    find,
    lead_row,
    make_due_now,
    message,
    messages_of,
    process,
    submit,
)
from tests.support.twilio_standin import TwilioStandin

ROOT = Path(__file__).resolve().parent.parent.parent
P = Purpose


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def decide(db: Database, lead_id: uuid.UUID, channel: str, purpose: Purpose) -> Decision:
    with db.session() as session:
        lead = session.get_one(Lead, lead_id)
        return can_contact(session, lead, channel, purpose, utcnow())


def change_lead(db: Database, lead_id: uuid.UUID, **values: Any) -> None:
    with db.transaction() as session:
        session.execute(sa.update(Lead).where(Lead.id == lead_id).values(**values))


# --- what it decides -----------------------------------------------------------------------


def replied(db: Database, lead_id: uuid.UUID) -> None:
    with db.transaction() as session:
        leads.patient_replied(session, lead_id, utcnow())


def opted_out(db: Database, lead_id: uuid.UUID) -> None:
    with db.transaction() as session:
        record_opt_out(session, lead_id, "sms", "provider", utcnow())


# Each situation, the texts' purposes it refuses (reason, cancelled?), and the submission.
NO_PHONE = intake.Contact(first_name="Jane", email=PATIENT_EMAIL)
SITUATIONS: dict[str, tuple[Callable[[Database, uuid.UUID], None] | None, dict[str, Any]]] = {
    "sequence-stopped": (replied, {}),
    "urgent": (lambda db, lead_id: change_lead(db, lead_id, urgent=True), {}),
    "closed": (lambda db, lead_id: change_lead(db, lead_id, status="closed"), {}),
    "spam": (lambda db, lead_id: change_lead(db, lead_id, status="spam"), {}),
    "dead-number": (lambda db, lead_id: change_lead(db, lead_id, phone_status="not_mobile"), {}),
    "no-consent": (None, {"sms_consent": False}),
    "opted-out": (opted_out, {}),
    "no-phone": (None, {"contact": NO_PHONE, "sms_consent": False}),
}
REFUSED: dict[str, dict[Purpose, tuple[str, bool]]] = {
    "sequence-stopped": {
        P.FIRST_CONTACT: ("sequence stopped: replied", True),
        P.FOLLOW_UP: ("sequence stopped: replied", True),
    },
    "urgent": {P.FOLLOW_UP: ("lead_urgent", True)},
    "closed": {
        p: ("lead_closed", False)
        for p in (P.FIRST_CONTACT, P.FOLLOW_UP, P.STAFF_ONE_OFF, P.STAFF_CONFIRMED)
    },
    "spam": {p: ("lead_spam", False) for p in policy.TO_PATIENT},
    "dead-number": {p: ("sms_not_mobile", False) for p in policy.TO_PATIENT},
    "no-consent": {p: ("no_consent", False) for p in policy.TO_PATIENT},
    "opted-out": {p: ("no_consent", False) for p in policy.TO_PATIENT},
    "no-phone": {p: ("sms_missing", False) for p in policy.TO_PATIENT},
}


@pytest.mark.parametrize("situation", list(SITUATIONS))
def test_each_purpose_is_allowed_or_refused_with_its_reason(
    ready_app: Callable[..., Flask], situation: str
) -> None:
    app = ready_app()
    db = database(app)
    change, submission = SITUATIONS[situation]
    lead_id = submit(app, **submission)
    if change is not None:
        change(db, lead_id)

    for purpose in Purpose:
        decision = decide(db, lead_id, "sms", purpose)
        if purpose in REFUSED[situation]:
            reason, cancel = REFUSED[situation][purpose]
            assert (decision.allowed, decision.reason, decision.cancel) == (False, reason, cancel)
            assert decision.not_before is None and not decision.may_still_go
            # Only a dead address leaves the other channel worth trying.
            assert decision.other_channel == (situation == "dead-number"), purpose
        else:
            assert decision == policy.ALLOWED, (situation, purpose, decision)


def test_a_dead_number_leaves_email_allowed(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    db = database(app)
    lead_id = submit(app)
    change_lead(db, lead_id, phone_status="invalid_number")

    assert not decide(db, lead_id, "sms", P.FIRST_CONTACT).allowed
    assert decide(db, lead_id, "email", P.FIRST_CONTACT).allowed


def test_an_unknown_channel_kind_is_refused_loudly(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    lead_id = submit(app)

    with pytest.raises(ValueError, match="fax"):
        decide(database(app), lead_id, "fax", P.TEAM_ALERT)


# --- planning and delivery follow it --------------------------------------------------------


def test_follow_up_planned_before_the_lead_turned_urgent_is_cancelled_at_send_time(
    ready_app: Callable[..., Flask],
) -> None:
    # Issue 9 makes leads urgent after planning (a crisis reply): the drip must not go on.
    app = ready_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    change_lead(db, lead_id, urgent=True)
    day1 = find(app, lead_id, "day1", "sms")
    make_due_now(db, day1.id)

    outcome = deliver(app, day1.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.CANCELLED, "lead_urgent")
    assert attempts_of(db, day1.id) == [(1, "cancelled", "lead_urgent")]


def test_texting_switched_off_plans_no_text_and_first_contact_goes_by_email(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(SMS_ENABLED="false")
    db = database(app)
    lead_id = submit(app)

    ids = process(app, lead_id)

    rows = messages_of(db, lead_id)
    assert [m for m in rows if m.channel == "sms"] == []
    patient = {(m.step_key, m.channel) for m in rows if m.audience == "patient"}
    assert patient == {("first", "email"), ("day3", "email"), ("day7", "email")}
    assert {deliver(app, i).status for i in ids} == {MessageStatus.SENT}


def test_text_planned_before_texting_was_switched_off_fails_and_falls_back_to_email(
    ready_app: Callable[..., Flask],
) -> None:
    texting = ready_app()
    lead_id = submit(texting)
    process(texting, lead_id)
    db = database(texting)
    day1 = find(texting, lead_id, "day1", "sms")
    make_due_now(db, day1.id)
    switched_off = ready_app(SMS_ENABLED="false")  # the same database, texting now off

    outcome = deliver(switched_off, day1.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.FAILED, "channel_off")
    assert lead_row(db, lead_id).phone_status is None  # the number itself is fine
    fallback = find(texting, lead_id, "day1", "email")
    assert (fallback.template_key, fallback.status) == ("patient_checkin", MessageStatus.PLANNED)


def defer_texts_until(when: dt.datetime) -> policy.Check:
    def quiet_hours(q: policy.Question) -> Decision | None:
        return Decision(False, "quiet_hours", not_before=when) if q.channel == "sms" else None

    return quiet_hours


def test_a_deferred_text_is_planned_waits_for_its_time_and_the_wait_is_not_a_try(
    wired_app: Callable[..., Flask],
    twilio_standin: TwilioStandin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The room quiet hours (issue 8) will use: a rule that says "later" defers, never drops.
    app = wired_app(DELIVERY_MAX_ATTEMPTS="1")
    db = database(app)
    morning = utcnow() + dt.timedelta(hours=9)
    deferring = ((defer_texts_until(morning), policy.TO_PATIENT), *policy.RULES)
    monkeypatch.setattr(policy, "RULES", deferring)
    lead_id = submit(app)
    process(app, lead_id)
    sms = find(app, lead_id, "first", "sms")

    outcome = deliver(app, sms.id)

    assert (outcome.status, outcome.detail) == (MessageStatus.PLANNED, "quiet_hours")
    assert message(db, sms.id).due_at == morning
    assert attempts_of(db, sms.id) == [(1, "deferred", "quiet_hours")]
    assert twilio_standin.requests == []
    monkeypatch.setattr(policy, "RULES", deferring[1:])  # morning has come
    make_due_now(db, sms.id)
    twilio_standin.fail_next(status=500)

    assert deliver(app, sms.id).status == MessageStatus.FAILED
    assert message(db, sms.id).last_error == "gave up after 1 attempts: server_error"


# --- dead letters -------------------------------------------------------------------------


def test_retry_of_a_text_to_a_dead_number_is_refused_in_words(
    wired_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = wired_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    sms = find(app, lead_id, "first", "sms")
    twilio_standin.error_next(21211)
    assert deliver(app, sms.id).status == MessageStatus.FAILED

    with pytest.raises(dead_letters.CannotRetry) as caught:
        dead_letters.retry(db, sms.id)

    assert str(caught.value) == (
        "the patient's phone number was marked invalid_number by the provider; "
        "retrying would be suppressed"
    )
    assert message(db, sms.id).status == MessageStatus.FAILED


def test_retry_is_refused_once_the_policy_would_refuse_the_message(
    wired_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = wired_app(DELIVERY_MAX_ATTEMPTS="1")
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    sms = find(app, lead_id, "first", "sms")
    twilio_standin.fail_next(status=503)
    assert deliver(app, sms.id).status == MessageStatus.FAILED
    change_lead(db, lead_id, status="spam")

    with pytest.raises(dead_letters.CannotRetry, match=r"refuses this message \(lead_spam\)"):
        dead_letters.retry(db, sms.id)

    change_lead(db, lead_id, status="new")
    dead_letters.retry(db, sms.id)
    assert message(db, sms.id).status == MessageStatus.PLANNED


# --- one place decides ----------------------------------------------------------------------

_KIND_COMPARISON = re.compile(
    r"""(==|!=|\bin\b)\s*\(?\s*["'](sms|email)["']|["'](sms|email)["']\s*(==|!=)"""
)


def test_no_code_outside_channels_and_models_compares_channel_kinds() -> None:
    # "Which kind is it?" belongs to channels/ (KINDS) and the Lead's address columns; anywhere
    # else it is a second copy of a decision that will drift.
    package = ROOT / "intake_service"
    allowed = (package / "channels", package / "models", package / "migrations")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in package.rglob("*.py")
        if not any(folder in path.parents for folder in allowed)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if _KIND_COMPARISON.search(line)
    ]
    assert offenders == []


# --- quiet hours, through the one policy ------------------------------------------------------

# 3:00 in Los Angeles (the patient's 213 number), 11:00 UTC; and noon there.
NIGHT_IN_LA = dt.datetime(2026, 12, 2, 11, 0, tzinfo=dt.UTC)
NOON_IN_LA = dt.datetime(2026, 12, 2, 20, 0, tzinfo=dt.UTC)


def test_a_text_at_night_waits_for_the_recipients_morning_and_email_does_not(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(QUIET_HOURS_ENABLED="true")
    db = database(app)
    lead_id = submit(app)

    with db.session() as session:
        lead = session.get_one(Lead, lead_id)
        text = can_contact(session, lead, "sms", P.FIRST_CONTACT, NIGHT_IN_LA)
        email = can_contact(session, lead, "email", P.FIRST_CONTACT, NIGHT_IN_LA)
        crisis = can_contact(session, lead, "sms", P.CRISIS, NIGHT_IN_LA)
        noon = can_contact(session, lead, "sms", P.FOLLOW_UP, NOON_IN_LA)

    assert (text.allowed, text.reason) == (False, "quiet_hours")
    assert text.not_before is not None and text.may_still_go
    local = text.not_before.astimezone(dt.timezone(dt.timedelta(hours=-8)))
    assert (local.date(), local.hour) == (dt.date(2026, 12, 2), 8)  # the window's first minutes
    assert email.allowed and crisis.allowed and noon.allowed


def test_quiet_hours_are_on_unless_switched_off(make_settings: Callable[..., Any]) -> None:
    assert make_settings(QUIET_HOURS_ENABLED="").quiet_hours_enabled is True
    assert make_settings().quiet_hours_enabled is False  # the test environment's choice
