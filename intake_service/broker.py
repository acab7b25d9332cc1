"""The one door from the domain to Celery: tasks enqueued by name on the app's own broker.

Domain code never imports `tasks` (the tasks import the domain) and never asks Celery for "the
current app": one process may hold several Flask apps (tests, a command beside a worker), each
with its own broker. create_app puts one Broker in `app.extensions`; code running in an app
context (a request or a task) finds it with `current_broker()`.

Only ids cross this door: each method takes the id of a row, never a name, phone or body.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import current_app, has_app_context

if TYPE_CHECKING:
    from celery import Celery

EXTENSION_KEY = "intake.broker"

# The task names, shared with tasks.py (which registers them) and the beat schedule.
PROCESS_LEAD = "intake_service.tasks.process_lead"
DELIVER = "intake_service.tasks.deliver"
DISPATCH_DUE = "intake_service.tasks.dispatch_due"
SWEEP_OUTBOX = "intake_service.tasks.sweep_outbox"
REPAGE_URGENT = "intake_service.tasks.repage_urgent"
PURGE_RETENTION = "intake_service.tasks.purge_retention"
REMIND_CALLBACKS = "intake_service.tasks.remind_callbacks"
ESCALATE_UNCLAIMED = "intake_service.tasks.escalate_unclaimed"
APPLY_PENDING_STATUS = "intake_service.tasks.apply_pending_status"

# After a failed publish, requests stop trying the broker for this long: during an outage each
# would otherwise wait out a connection timeout before answering. The outbox sweep publishes later.
BACKOFF_SECONDS = 5.0


class Broker:
    """One app's broker: enqueue by task name, and remember a recent outage (per app)."""

    def __init__(
        self,
        celery: Celery,
        *,
        backoff: float = BACKOFF_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.celery = celery
        self.backoff = backoff
        self._clock = clock
        self._down_until = 0.0

    def process_lead(self, lead_id: uuid.UUID) -> None:
        """Ask a worker to triage and plan a lead; raises whatever the broker client raises."""
        self._send(PROCESS_LEAD, str(lead_id))

    def deliver(
        self, message_id: int, lane: str | None = None, eta: dt.datetime | None = None
    ) -> None:
        """Ask a worker to send one message; raises whatever the broker client raises.

        `lane` is one of DELIVERY_LANES: team alerts ("team") and patient messages by channel
        ("email", "sms") each wait on a queue of their own, so a slow provider or a backlog of
        patient messages holds up only its own lane; without a lane, the default queue.
        `eta`: not before then (a paced text's slot, seconds ahead; the database holds it too).
        """
        priority = LANE_PRIORITY.get(lane or "", 0)
        self._send(
            DELIVER, message_id, queue=lane_queue(self.celery, lane), eta=eta, priority=priority
        )

    def backing_off(self) -> bool:
        """True for a few seconds after a publish failed: callers that may wait skip the broker."""
        return self._clock() < self._down_until

    def record_failure(self) -> None:
        self._down_until = self._clock() + self.backoff

    def _send(
        self,
        task_name: str,
        *ids: str | int,
        queue: str | None = None,
        eta: dt.datetime | None = None,
        priority: int = 0,
    ) -> None:
        # send_task publishes with this Celery app's own connection, queue and retry policy,
        # whichever Celery app happens to be "current" in the process. Unlike a task's
        # apply_async it does not read task_ignore_result, so it is passed on here.
        self.celery.send_task(
            task_name,
            args=list(ids),
            ignore_result=self.celery.conf.task_ignore_result,
            queue=queue,
            eta=eta,
            priority=priority,
        )


# The delivery queues beside the default one: "<default queue>.<lane>".
DELIVERY_LANES = ("team", "email", "sms")
# The scheduler's tick ("<default queue>.dispatch"), apart from the leads waiting to be processed.
DISPATCH_LANE = "dispatch"
# Under a flood a worker reads every queue's priority-0 tasks before any of the others (kombu's
# Redis transport reads "<queue>", then "<queue>\x06\x163", ...): the ticks, lead processing and
# team alerts, then patient texts, then patient email. Speed to lead is the team hearing of
# every lead in seconds; a patient's message waits out the flood rather than the team.
LANE_PRIORITY = {"team": 0, "sms": 3, "email": 6}


def lane_queue(celery: Celery, lane: str | None) -> str | None:
    """The queue for deliveries in `lane` ("<default queue>.<lane>"), None for the default."""
    if lane is None:
        return None
    if lane not in DELIVERY_LANES:
        raise ValueError(f"unknown delivery lane {lane!r}")
    return f"{celery.conf.task_default_queue}.{lane}"


def current_broker() -> Broker:
    """The Broker of the current Flask app (web request or Celery task); raises outside one."""
    broker: Broker = current_app.extensions[EXTENSION_KEY]
    return broker


def broker_in_context() -> Broker | None:
    """The current app's Broker, or None when no app context is active (a script, a test)."""
    return current_broker() if has_app_context() else None
