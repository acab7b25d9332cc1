"""Retention: spam deleted after N days, closed leads' health fields erased after M days, by a
beat task that logs counts only."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database, utcnow
from intake_service.domain.compliance import retention
from intake_service.domain.compliance.opt_outs import number_opted_out
from intake_service.domain.outreach import delivery, inbound, scheduler
from intake_service.models import (
    ArchivedConsent,
    AuditEvent,
    ConsentEvent,
    DeliveryAttempt,
    InboundMessage,
    Lead,
    LeadEvent,
    Message,
    PhoneOptOut,
    Submission,
    Triage,
    UrgentPage,
)
from tests.domain.builders import load_templates
from tests.support import factories

NOW = utcnow()
POLICY = retention.RetentionPolicy(spam_days=30, closed_days=365)
SECRET = "my therapist thinks I should try ketamine"


def lead_in(db: Database, status: str, days_ago: float, by_person: bool = True) -> uuid.UUID:
    """A lead put into `status` `days_ago` days ago (by a person, or by the system)."""
    at = NOW - dt.timedelta(days=days_ago)
    with db.transaction() as session:
        staff = factories.user(session, "coordinator")
        lead = factories.lead(
            session,
            status=status,
            message=SECRET,
            answers={"struggles_with_depression_ocd_anxiety": True},
            triage={"reasons": ["core_tms_indication"], "score": 9},
            created_at=at - dt.timedelta(days=2),
            updated_at=at if not by_person else NOW - dt.timedelta(days=1),
        )
        lead.updated_at = at if not by_person else NOW - dt.timedelta(days=1)
        factories.message(session, lead, subject="Hello", body_text=f"Hi {lead.first_name}")
        factories.lead_event(session, lead, "note_added", at, staff, note="called, no answer")
        # The factory's triage touched the lead; set the time of its last change as wanted.
        session.execute(
            sa.update(Lead).where(Lead.id == lead.id).values(updated_at=lead.updated_at)
        )
        if by_person:
            factories.lead_event(
                session, lead, "status_changed", at, staff, **{"from": "new", "to": status}
            )
        return lead.id


def test_old_spam_is_deleted_keeping_its_consent_ledger(db: Database) -> None:
    old = lead_in(db, "spam", 31)
    recent = lead_in(db, "spam", 29)
    open_lead = lead_in(db, "new", 400)

    report = retention.purge(db, POLICY, NOW)

    assert report == retention.PurgeReport(spam_deleted=1, health_erased=0)
    with db.session() as session:
        assert session.get(Lead, old) is None
        assert session.get(Lead, recent) is not None
        assert session.get(Lead, open_lead) is not None
        kept = session.scalars(sa.select(ArchivedConsent).where(ArchivedConsent.lead_id == old))
        assert [line.channel for line in kept] == ["email"]
        summary = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.kind == "retention.purged")
        ).one()
        assert summary.detail == {
            "spam_deleted": 1,
            "health_erased": 0,
            "unknown_texts_deleted": 0,
        }


def test_closed_leads_lose_health_fields_but_keep_lead_status_and_consent(db: Database) -> None:
    old = lead_in(db, "closed", 366)
    recent = lead_in(db, "closed", 300)
    closed_by_system = lead_in(db, "closed", 370, by_person=False)

    report = retention.purge(db, POLICY, NOW)

    assert report.health_erased == 2
    with db.session() as session:
        for lead_id in (old, closed_by_system):
            lead = session.get(Lead, lead_id)
            assert lead is not None and lead.status == "closed" and lead.health_erased_at
            assert lead.phone and lead.first_name  # contact points and name stay
            submission = session.scalars(
                sa.select(Submission).where(Submission.lead_id == lead_id)
            ).one()
            assert submission.answers is None and submission.message is None
            assert session.scalars(sa.select(Triage).where(Triage.lead_id == lead_id)).all() == []
            notes = session.scalars(sa.select(LeadEvent.note).where(LeadEvent.lead_id == lead_id))
            assert set(notes) == {None}
            message = session.scalars(sa.select(Message).where(Message.lead_id == lead_id)).one()
            assert message.body_text is None and message.subject is None
            assert session.scalars(
                sa.select(ConsentEvent).where(ConsentEvent.lead_id == lead_id)
            ).all()
        untouched = session.scalars(sa.select(Submission).where(Submission.lead_id == recent)).one()
        assert untouched.message == SECRET


def test_purge_is_idempotent_and_zero_days_keeps_everything(db: Database) -> None:
    lead_in(db, "spam", 100)
    lead_in(db, "closed", 1000)

    assert retention.purge(db, retention.RetentionPolicy(0, 0), NOW) == retention.PurgeReport(0, 0)
    assert retention.purge(db, POLICY, NOW) == retention.PurgeReport(1, 1)
    assert retention.purge(db, POLICY, NOW) == retention.PurgeReport(0, 0)


def test_beat_task_purges_and_logs_counts_only(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(RETENTION_SPAM_DAYS="7", RETENTION_CLOSED_DAYS="30")
    db: Database = app.extensions["intake.db"]
    lead_in(db, "spam", 8)
    lead_in(db, "closed", 31)
    from intake_service import tasks

    with app.app_context(), caplog.at_level(logging.INFO):
        tasks.purge_retention()

    lines = [r.getMessage() for r in caplog.records if "retention purge" in r.getMessage()]
    assert lines == [
        "retention purge: 1 spam leads deleted, 1 closed leads' health fields erased, "
        "0 texts from unknown numbers deleted"
    ]
    assert SECRET not in caplog.text and "Pat" not in caplog.text
    beat = app.extensions["celery"].conf.beat_schedule
    assert beat["purge-retention"]["task"] == "intake_service.tasks.purge_retention"
    assert "intake_service.tasks.purge_retention" in app.extensions["celery"].tasks


# --- texts from numbers no lead gave -------------------------------------------------------

STRANGER = "+14155550123"


def text_from(app: Flask, body: str, sender: str = STRANGER) -> int:
    """A text in through the inbound path, as the webhook hands it over; its id."""
    sms = inbound.InboundSms("SM" + uuid.uuid4().hex, sender, "+13105550100", body)
    answer = inbound.receive(app.extensions["intake.db"], app.extensions["intake.settings"], sms)
    assert answer.inbound_id is not None
    return answer.inbound_id


def test_texts_from_unknown_numbers_go_after_the_closed_days_keeping_the_numbers_stop(
    make_app: Callable[..., Flask], backend_url: str
) -> None:
    # On both backends: the pages about a text go with it by ON DELETE CASCADE.
    app = make_app(DATABASE_URL=backend_url, RETENTION_CLOSED_DAYS="365")
    db: Database = app.extensions["intake.db"]
    settings = app.extensions["intake.settings"]
    load_templates(db)
    stop = text_from(app, "STOP")
    crisis = text_from(app, "i want to kill myself")  # pages on-call: rows about the text
    plain = text_from(app, "who is this?")
    other = text_from(app, "hello", "+14155550188")
    with db.transaction() as session:
        lead = factories.lead(session, phone="+12133734253")
        lead_id = lead.id
    leads_text = text_from(app, "evening please", "+12133734253")
    scheduler.claim_due(db, settings.delivery)
    with db.session() as session:
        page_ids = session.scalars(
            sa.select(Message.id).where(Message.inbound_message_id == crisis)
        ).all()
    assert page_ids
    for message_id in page_ids:
        delivery.deliver(db, settings, message_id)  # attempts rows too
    received = NOW  # the texts came in now; the purge runs on a clock moved past it

    kept = retention.purge(
        db, retention.RetentionPolicy(30, 365), received + dt.timedelta(days=364)
    )
    gone = retention.purge(
        db, retention.RetentionPolicy(30, 365), received + dt.timedelta(days=366)
    )

    assert kept.unknown_texts_deleted == 0
    assert gone.unknown_texts_deleted == 4
    with db.session() as session:
        left = set(session.scalars(sa.select(InboundMessage.id)))
        assert left == {leads_text}  # a lead's texts follow its lead, not this rule
        assert {stop, crisis, plain, other}.isdisjoint(left)
        assert session.scalars(sa.select(Message).where(Message.lead_id.is_(None))).all() == []
        assert session.scalars(sa.select(UrgentPage)).all() == []
        assert (
            session.scalars(
                sa.select(DeliveryAttempt).where(DeliveryAttempt.message_id.in_(page_ids))
            ).all()
            == []
        )
        # The STOP is the person's: it outlives the text that said it.
        (opt_out,) = session.scalars(sa.select(PhoneOptOut)).all()
        assert (opt_out.phone, opt_out.inbound_message_id) == (STRANGER, None)
        assert number_opted_out(session, STRANGER)
        assert session.get(Lead, lead_id) is not None
        summary = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.kind == "retention.purged")
        ).one()
        assert summary.detail["unknown_texts_deleted"] == 4


def test_zero_closed_days_keeps_texts_from_unknown_numbers(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    db: Database = app.extensions["intake.db"]
    text_from(app, "who is this?")

    report = retention.purge(db, retention.RetentionPolicy(30, 0), NOW + dt.timedelta(days=5000))

    assert report.unknown_texts_deleted == 0
    with db.session() as session:
        assert len(session.scalars(sa.select(InboundMessage)).all()) == 1
