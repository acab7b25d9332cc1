"""Thin Celery tasks: each takes ids only (never names, phones, answers or bodies).

Every task is idempotent, so acks_late redelivery after a worker dies is safe. Failures are
not retried through the broker: the database keeps the truth and the beat sweeps pick up
whatever a failed task left behind.

The tasks are registered on one Celery app at a time (`register`), not as shared tasks: each
app's worker runs them in that app's context, with that app's database and broker.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import TYPE_CHECKING

from flask import current_app

from intake_service import broker, logs
from intake_service.config import Settings
from intake_service.db import get_db
from intake_service.domain.compliance import retention
from intake_service.domain.events import outbox
from intake_service.domain.leads import escalation, reminders
from intake_service.domain.outreach import (
    delivery,
    processing,
    scheduler,
    status_callbacks,
    urgent,
)

if TYPE_CHECKING:
    from celery import Celery
log = logging.getLogger(__name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["intake.settings"]
    return settings


def process_lead(lead_id: str) -> None:
    with logs.task_scope(lead=lead_id):
        due = processing.process_lead_routed(get_db(), _settings(), uuid.UUID(lead_id))
        scheduler.hand_to_workers(broker.current_broker(), due)


def deliver(message_id: int) -> None:
    # delivery names the message's lead on the log lines once it has claimed the message.
    with logs.task_scope(message=message_id):
        delivery.deliver(get_db(), _settings(), message_id)


def dispatch_due() -> None:
    db, policy, door = get_db(), _settings().delivery, broker.current_broker()
    # First what workers that stopped beating may have taken from the broker (liveness.py).
    orphans = scheduler.claim_orphans(db, policy)
    if orphans is not None:
        scheduler.hand_to_workers(door, orphans.messages)
        outbox.republish_taken_before(db, orphans.taken_by, door)
    scheduler.hand_to_workers(door, scheduler.claim_due_routed(db, policy))


def sweep_outbox() -> None:
    republish_after = dt.timedelta(seconds=_settings().outbox_republish_after)
    outbox.sweep(get_db(), republish_after, broker.current_broker())


def escalate_unclaimed() -> None:
    db, settings = get_db(), _settings()
    if escalation.sweep(db, settings):
        scheduler.hand_to_workers(
            broker.current_broker(), scheduler.claim_due_routed(db, settings.delivery)
        )


def repage_urgent() -> None:
    db, settings = get_db(), _settings()
    if urgent.sweep(db, settings):
        due = scheduler.claim_due_routed(db, settings.delivery)
        scheduler.hand_to_workers(broker.current_broker(), due)


def purge_retention() -> None:
    policy = _settings().security
    report = retention.purge(
        get_db(),
        retention.RetentionPolicy(policy.retention_spam_days, policy.retention_closed_days),
    )
    # Counts only: what was purged is gone, and its names never belong in a log.
    log.info(
        "retention purge: %d spam leads deleted, %d closed leads' health fields erased, "
        "%d texts from unknown numbers deleted",
        report.spam_deleted,
        report.health_erased,
        report.unknown_texts_deleted,
    )


def remind_callbacks() -> None:
    db, settings = get_db(), _settings()
    if reminders.sweep(db, settings):
        scheduler.hand_to_workers(
            broker.current_broker(), scheduler.claim_due_routed(db, settings.delivery)
        )


def apply_pending_status() -> None:
    status_callbacks.sweep_pending(get_db(), _settings())


def register(celery: Celery) -> None:
    """Register every task on `celery` under the names broker.py sends."""
    # shared=False: a shared task would be added to every Celery app the process creates.
    celery.task(name=broker.PROCESS_LEAD, shared=False)(process_lead)
    celery.task(name=broker.DELIVER, shared=False)(deliver)
    # The beat ticks again soon: a tick still waiting after that is only noise.
    celery.task(name=broker.DISPATCH_DUE, shared=False, expires=30)(dispatch_due)
    celery.task(name=broker.SWEEP_OUTBOX, shared=False, expires=60)(sweep_outbox)
    celery.task(name=broker.REPAGE_URGENT, shared=False, expires=60)(repage_urgent)
    celery.task(name=broker.PURGE_RETENTION, shared=False, expires=3600)(purge_retention)
    celery.task(name=broker.REMIND_CALLBACKS, shared=False, expires=60)(remind_callbacks)
    celery.task(name=broker.ESCALATE_UNCLAIMED, shared=False, expires=60)(escalate_unclaimed)
    celery.task(name=broker.APPLY_PENDING_STATUS, shared=False, expires=60)(apply_pending_status)
