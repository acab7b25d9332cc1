"""Celery bound to the Flask app: task defaults that keep leads safe, and the beat schedule."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

from intake_service.config import Settings


def init_celery(app: Flask, settings: Settings) -> Celery:
    """Create the Celery app for `app`; every task body runs inside the Flask app context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    transport_options: dict[str, Any] = {}
    if settings.broker_url.startswith(("redis", "rediss")):
        # Fail fast when Redis is away: the outbox keeps the event and the sweep publishes it later.
        transport_options = {"socket_connect_timeout": 2, "socket_timeout": 5}
    celery.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options=transport_options,
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        # A task is acknowledged only when it finished, and re-queued if its worker died:
        # every task is idempotent, so running twice is safe and running never is not.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.task_queue,
        task_time_limit=120,
        task_soft_time_limit=90,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        worker_hijack_root_logger=False,
        beat_schedule={
            "dispatch-due-messages": {
                "task": "intake_service.tasks.dispatch_due",
                "schedule": settings.dispatch_interval,
            },
            "sweep-outbox": {
                "task": "intake_service.tasks.sweep_outbox",
                # Twice per republish period, so no event waits much longer than that period.
                "schedule": settings.outbox_republish_after / 2,
            },
            # Unacknowledged urgent leads are paged again; due times live in urgent_pages.
            "repage-urgent-leads": {
                "task": "intake_service.tasks.repage_urgent",
                "schedule": 30.0,
            },
            # Retention (RETENTION_*_DAYS): days-long limits, so once an hour is plenty.
            "purge-retention": {
                "task": "intake_service.tasks.purge_retention",
                "schedule": 3600.0,
            },
        },
        beat_schedule_filename=str(settings.instance_path / "celerybeat-schedule"),
    )
    celery.set_default()
    app.extensions["celery"] = celery
    import intake_service.tasks  # noqa: F401  (registers the tasks on this app)

    return celery
