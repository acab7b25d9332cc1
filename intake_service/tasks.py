"""Thin Celery tasks: each takes ids only (never names, phones, answers or bodies).

Every task is idempotent, so acks_late redelivery after a worker dies is safe. Failures are
not retried through the broker: the database keeps the truth and the beat sweeps pick up
whatever a failed task left behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from celery import shared_task
from flask import current_app

from intake_service.config import Settings
from intake_service.db import get_db
from intake_service.domain.compliance import retention
from intake_service.domain.events import outbox
from intake_service.domain.outreach import delivery, processing, scheduler, urgent

log = logging.getLogger(__name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["intake.settings"]
    return settings


@shared_task(name="intake_service.tasks.process_lead")
def process_lead(lead_id: str) -> None:
    processing.process_lead(get_db(), _settings(), uuid.UUID(lead_id))


@shared_task(name="intake_service.tasks.deliver")
def deliver(message_id: int) -> None:
    delivery.deliver(get_db(), _settings(), message_id)


@shared_task(name="intake_service.tasks.dispatch_due", expires=30)
def dispatch_due() -> None:
    scheduler.hand_to_workers(scheduler.claim_due(get_db(), _settings().delivery))


@shared_task(name="intake_service.tasks.sweep_outbox", expires=60)
def sweep_outbox() -> None:
    outbox.sweep(get_db(), dt.timedelta(seconds=_settings().outbox_republish_after))


@shared_task(name="intake_service.tasks.repage_urgent", expires=60)
def repage_urgent() -> None:
    db, settings = get_db(), _settings()
    if urgent.sweep(db, settings):
        scheduler.hand_to_workers(scheduler.claim_due(db, settings.delivery))


@shared_task(name="intake_service.tasks.purge_retention", expires=3600)
def purge_retention() -> None:
    policy = _settings().security
    report = retention.purge(
        get_db(),
        retention.RetentionPolicy(policy.retention_spam_days, policy.retention_closed_days),
    )
    # Counts only: what was purged is gone, and its names never belong in a log.
    log.info(
        "retention purge: %d spam leads deleted, %d closed leads' health fields erased",
        report.spam_deleted,
        report.health_erased,
    )
