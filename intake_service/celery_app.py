"""Celery bound to the Flask app: task defaults that keep leads safe, and the beat schedule."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from flask import Flask
from kombu import Queue

from intake_service import broker, embedded_broker, metrics, redis_broker, tasks
from intake_service.config import Settings


def init_celery(app: Flask, settings: Settings) -> Celery:
    """Create the Celery app for `app`; every task body runs inside the Flask app context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    # set_as_current=False: this app must not become the process's "current" Celery app, which a
    # second create_app in the same process would otherwise silently take over.
    celery = Celery(app.import_name, task_cls=FlaskTask, set_as_current=False)
    transport_options: dict[str, Any] = {}
    broker_url, transport = settings.broker_url, None
    if settings.broker_url.startswith(("redis", "rediss")):
        # Fail fast when Redis is away: the outbox keeps the event and the sweep publishes it later.
        transport_options = {"socket_connect_timeout": 2, "socket_timeout": 5}
        if settings.broker_url.startswith("redis://"):
            # kombu's, but a Redis outage cannot end the worker (redis_broker.py); rediss://
            # stays on kombu's own, which derives its TLS settings from the scheme.
            transport = redis_broker.TRANSPORT
    elif settings.broker_url.startswith(embedded_broker.URL_PREFIX):
        # The embedded default: SQLite that wakes its worker (embedded_broker.py), not kombu's
        # polling SQLAlchemy transport, which the `sqla+` of the setting would otherwise name.
        broker_url = embedded_broker.connection_url(settings.broker_url)
        transport = embedded_broker.TRANSPORT
    celery.conf.update(
        broker_url=broker_url,
        broker_transport=transport,
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
        # The default queue (lead processing, sweeps) and one per delivery lane (team alerts,
        # patient email, patient texts): a worker started without -Q consumes them all;
        # `-Q <queue>.sms` runs a worker for patient texts alone (docs/operations.md).
        task_queues=[
            Queue(settings.task_queue),
            *(Queue(f"{settings.task_queue}.{lane}") for lane in broker.DELIVERY_LANES),
            Queue(f"{settings.task_queue}.{broker.DISPATCH_LANE}"),
        ],
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
                "task": broker.DISPATCH_DUE,
                "schedule": settings.dispatch_interval,
                # A queue of its own: a tick must keep time behind a flood of leads to process,
                # or paced texts' slots pass with nobody handing them on.
                "options": {"queue": f"{settings.task_queue}.{broker.DISPATCH_LANE}"},
            },
            "apply-pending-status": {
                # Status callbacks that beat their SID and missed delivery's hook (a race).
                "task": broker.APPLY_PENDING_STATUS,
                "schedule": 60.0,
            },
            "sweep-outbox": {
                "task": broker.SWEEP_OUTBOX,
                # Twice per republish period, so no event waits much longer than that period.
                "schedule": settings.outbox_republish_after / 2,
            },
            # Unacknowledged urgent leads are paged again; due times live in urgent_pages.
            "repage-urgent-leads": {
                "task": broker.REPAGE_URGENT,
                # Twice per re-page period (at most every 30 s), so a due page waits at most
                # half a period past URGENT_REPAGE_MINUTES.
                "schedule": min(30.0, max(1.0, settings.urgent_repage_minutes * 30)),
            },
            # Callbacks coming due remind their assignee; due times live in callback_requests.
            "remind-due-callbacks": {
                "task": broker.REMIND_CALLBACKS,
                "schedule": 60.0,
            },
            # Retention (RETENTION_*_DAYS): days-long limits, so once an hour is plenty.
            "purge-retention": {
                "task": broker.PURGE_RETENTION,
                "schedule": 3600.0,
            },
            # Leads nobody acted on in their time to first contact; due times in escalations.
            "escalate-unclaimed-leads": {
                "task": broker.ESCALATE_UNCLAIMED,
                "schedule": 30.0,
            },
        },
        beat_schedule_filename=str(settings.instance_path / "celerybeat-schedule"),
    )
    # Not celery.set_default(): publishing goes through this app's Broker, so no code depends
    # on which Celery app the process made last.
    tasks.register(celery)
    _close_connections_on_shutdown()
    _mark_metrics_dead_on_exit(settings)
    _keep_heartbeats(app, celery, settings)
    app.extensions["celery"] = celery
    return celery


def _close_connections_on_shutdown() -> None:
    """QUIT the SMTP sessions worker threads keep between sends, when a worker stops."""
    from celery import signals

    from intake_service.channels.email import connections

    def close(**_: Any) -> None:
        connections.close_all()

    # weak=False: the receiver is a local function; dispatch_uid keeps it to one per process.
    for signal in (signals.worker_process_shutdown, signals.worker_shutdown):
        signal.connect(close, weak=False, dispatch_uid=f"intake-smtp-close-{signal.name}")


def _mark_metrics_dead_on_exit(settings: Settings) -> None:
    """A pool process that exits has its live gauges dropped from the metrics folder."""
    from celery import signals

    directory = settings.operations.multiproc_dir
    if directory is None:
        return

    def mark(pid: int | None = None, **_: Any) -> None:
        metrics.mark_process_dead(pid or os.getpid(), directory)

    signals.worker_process_shutdown.connect(mark, weak=False, dispatch_uid="intake-metrics-dead")


def _keep_heartbeats(app: Flask, celery: Celery, settings: Settings) -> None:
    """Every process that runs this app's tasks keeps a heartbeat (domain/outreach/liveness.py):
    a prefork pool's children each their own, from their start; any other pool's worker itself.
    """
    from celery import signals
    from celery.apps.worker import Worker
    from celery.concurrency import get_implementation

    from intake_service.domain.outreach import liveness

    dead_after = settings.delivery.worker_dead_after

    def begin() -> None:
        liveness.start(app.extensions["intake.db"], dead_after)

    def in_worker(sender: Any = None, **_: Any) -> None:
        # Only the `celery worker` program: a worker embedded in another process (a test's)
        # would make that whole process look like a worker.
        if not isinstance(sender, Worker) or sender.app is not celery:
            return
        pool = get_implementation(sender.pool_cls)
        # The prefork parent runs no task; its children start after it forks them.
        if pool.__module__ != "celery.concurrency.prefork":
            begin()

    def in_child(**_: Any) -> None:
        begin()

    def end(**_: Any) -> None:
        liveness.stop(app.extensions["intake.db"])

    uid = f"intake-heartbeat-{id(celery)}"
    signals.worker_init.connect(in_worker, weak=False, dispatch_uid=f"{uid}-init")
    # A forked pool child belongs to the app whose worker forked it: the process's only one.
    signals.worker_process_init.connect(in_child, weak=False, dispatch_uid="intake-heartbeat-child")
    for signal in (signals.worker_process_shutdown, signals.worker_shutdown):
        signal.connect(end, weak=False, dispatch_uid=f"{uid}-{signal.name}")
