"""The factories build rows the product takes for its own: every state, either target."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain.compliance.consent import has_consent
from intake_service.domain.outreach import delivery, scheduler
from intake_service.domain.templates.versions import load_defaults
from intake_service.models import DeliveryAttempt, Lead, Message, MessageStatus, Submission
from intake_service.models.message import TRANSITIONS
from tests.support import factories


@pytest.fixture
def app(make_app: Callable[..., Flask], backend_url: str) -> Flask:
    return make_app(DATABASE_URL=backend_url)


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["intake.db"]
    return database


@pytest.fixture
def settings(app: Flask) -> Settings:
    configured: Settings = app.extensions["intake.settings"]
    return configured


def attempts(db: Database, message_id: int) -> list[tuple[int, str | None]]:
    with db.session() as session:
        rows = session.scalars(
            sa.select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.number)
        )
        return [(a.number, a.outcome) for a in rows]


def test_a_message_in_each_status_has_what_that_status_implies(db: Database) -> None:
    lead = factories.lead(db)
    explained = (
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERED,
        MessageStatus.SUPPRESSED,
        MessageStatus.CANCELLED,
    )

    for status in MessageStatus:
        made = factories.message(db, lead, status, step_key=status.value)

        with db.session() as session:
            row = session.get_one(Message, made.id)
        assert (row.status, row.channel, row.recipient) == (status, "sms", lead.phone)
        assert (row.provider_id is not None) == (status in factories.AT_THE_PROVIDER), status
        assert (row.sent_at is not None) == (status in factories.AT_THE_PROVIDER), status
        assert (row.body_text is not None) == (status in factories.RENDERED), status
        assert (row.failed_at is not None) == (status == MessageStatus.FAILED), status
        assert (row.last_error is not None) == (status in explained), status
        history = attempts(db, made.id)
        assert [n for n, _ in history] == list(range(1, row.attempts + 1)), status
        if status == MessageStatus.SENDING:
            assert history == [(1, None)]  # a worker is talking to the provider right now
        else:
            assert all(outcome is not None for _, outcome in history), status


def test_only_due_planned_and_stale_messages_are_claimed_by_the_scheduler(
    db: Database, settings: Settings
) -> None:
    lead = factories.lead(db)
    long_ago = utcnow() - dt.timedelta(hours=1)
    made = {
        status: factories.message(db, lead, status, due_at=long_ago) for status in MessageStatus
    }
    later = factories.message(db, lead, "planned", due_at=utcnow() + dt.timedelta(days=1))

    claimed = scheduler.claim_due(db, settings.delivery)

    # Planned and due; queued an hour ago and never started; sending for an hour (its worker
    # died): exactly what the scheduler takes. Everything else is left alone.
    expected = {MessageStatus.PLANNED, MessageStatus.QUEUED, MessageStatus.SENDING}
    assert sorted(claimed) == sorted(made[s].id for s in expected)
    assert later.id not in claimed


def test_a_planned_message_of_a_submitted_lead_is_delivered_by_the_product(
    db: Database, settings: Settings
) -> None:
    with db.transaction() as session:
        load_defaults(session)
    lead = factories.lead(db, sms_consent=True, triage={})
    text = factories.message(db, lead, "planned")
    sent = factories.message(db, lead, "sent", channel="email")

    assert delivery.deliver(db, settings, text.id).status == MessageStatus.SENT
    assert delivery.deliver(db, settings, sent.id).status == "skipped"


def test_factory_statuses_are_states_the_machine_can_leave_as_production_does() -> None:
    # Each default attempt count matches how the status is reached: a claim adds one.
    for status, count in factories.DEFAULT_ATTEMPTS.items():
        reached_by_a_claim = status not in (
            MessageStatus.PLANNED,
            MessageStatus.QUEUED,
            MessageStatus.CANCELLED,
        )
        assert (count == 1) == reached_by_a_claim, status
        assert status in TRANSITIONS


def test_a_lead_has_its_submissions_consent_and_triage(db: Database) -> None:
    lead = factories.lead(
        db,
        form="tms_screen",
        answers=factories.TMS_ALL_YES,
        submissions=2,
        sms_consent=True,
        triage={"priority": "high", "score": 10},
        phone=None,
        status="contacted",
        urgent=True,
    )

    with db.session() as session:
        row = session.get_one(Lead, lead.id)
        assert [s.form for s in row.submissions] == ["tms_screen", "tms_screen"]
        assert row.submissions[0].answers == factories.TMS_ALL_YES
        assert row.triage is not None and row.triage.submission_id == row.submissions[0].id
        assert (row.priority, row.urgent, row.status) == ("high", True, "contacted")
        assert row.sequence_stopped_at is not None and row.sequence_stop_reason == "contacted"
        assert has_consent(session, lead.id, "email")
        assert not has_consent(session, lead.id, "sms")  # no phone, so no SMS consent line


def test_an_opt_out_after_the_opt_in_withdraws_consent(db: Database) -> None:
    lead = factories.lead(db, sms_consent=True)
    factories.consent_event(db, lead, "sms", "opt_out")

    with db.session() as session:
        assert not has_consent(session, lead.id, "sms")
        assert has_consent(session, lead.id, "email")
        assert session.get_one(Lead, lead.id).triage is None


def test_with_a_session_nothing_is_kept_unless_the_caller_commits(db: Database) -> None:
    with db.session() as session:
        lead = factories.lead(session, triage={})
        factories.message(session, lead, "failed")
        assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == 1
        session.rollback()

    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0


def test_keywords_set_any_column(db: Database) -> None:
    sent_at = utcnow() - dt.timedelta(minutes=3)
    lead = factories.lead(db, first_name="Ana", treatment_interest="ketamine", priority="low")
    made = factories.message(
        db, lead, "delivered", audience="team", sent_at=sent_at, attempts=3, history=True
    )

    assert (made.recipient, made.template_key, made.sent_at) == (
        factories.TEAM_EMAIL,
        "team_new_lead",
        sent_at,
    )
    assert attempts(db, made.id) == [(1, "transient"), (2, "transient"), (3, "sent")]
    extra = factories.delivery_attempt(db, made, outcome="transient", detail="timeout")
    assert extra.number == 4


def test_a_lead_without_the_contact_point_needs_a_recipient(db: Database) -> None:
    lead = factories.lead(db, phone=None)

    with pytest.raises(ValueError, match="no sms contact point"):
        factories.message(db, lead, "planned", channel="sms")
