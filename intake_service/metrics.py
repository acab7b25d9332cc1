"""Prometheus metrics. Labels carry forms, outcomes, channels, statuses and categories only:
never names, phones, emails, answers, scores or ids.

Two kinds:
- Events (submissions, triage outcomes, delivery attempts, webhook verdicts, speed to lead, HTTP
  requests) are counters and histograms kept by the process that saw them. Under gunicorn and
  Celery's prefork pool, PROMETHEUS_MULTIPROC_DIR makes every process write its own file there
  (prometheus-client's multiprocess mode) and /metrics adds them up; without it they stay in
  this process's memory, as for `intake-service run` and the tests.
- States (messages by channel and status, what is due and unsent, the outbox, broker queue
  lengths) are read from the database and the broker at scrape time, so they are right whatever
  process serves /metrics and however many workers run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from intake_service.db import Database, utcnow
from intake_service.models import Lead, Message, MessageStatus, OutboxEvent

# A label value is a word of ours (a form, an outcome, a channel): anything else is "other", so
# no caller's mistake can put an address or a number into a label.
_LABEL = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
# Seconds from a lead's creation to the team email the provider accepted: 100 ms to an hour.
SPEED_TO_LEAD_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
CHANNELS = ("email", "sms")
# Statuses of a message not yet handed to its provider.
UNSENT = (MessageStatus.PLANNED, MessageStatus.QUEUED, MessageStatus.SENDING)

# registry=None: created once per process; a scrape registry adds them (or their files) below.
SUBMISSIONS = Counter(
    "intake_submissions",
    "Submissions by form and outcome (accepted, duplicate, spam, replayed, invalid, limited, ...)",
    ["form", "outcome"],
    registry=None,
)
TRIAGE = Counter(
    "intake_triage", "Leads triaged, by priority (urgent, high, normal, low)", ["priority"],
    registry=None,
)  # fmt: skip
DELIVERY_ATTEMPTS = Counter(
    "intake_delivery_attempts",
    "Delivery attempts by channel and outcome (sent, retry, gave_up, permanent, deferred, ...)",
    ["channel", "outcome"],
    registry=None,
)
SPEED_TO_LEAD = Histogram(
    "intake_speed_to_lead_seconds",
    "From a lead's creation to its first team email accepted by the provider",
    ["kind"],
    buckets=SPEED_TO_LEAD_BUCKETS,
    registry=None,
)
WEBHOOKS = Counter(
    "intake_webhooks",
    "Webhook requests by source and verdict (accepted, bad_signature, malformed, unknown, ...)",
    ["source", "verdict"],
    registry=None,
)
HTTP_REQUESTS = Counter(
    "intake_http_requests", "HTTP requests by endpoint and status", ["endpoint", "status"],
    registry=None,
)  # fmt: skip
HTTP_LATENCY = Histogram(
    "intake_http_request_seconds", "HTTP request latency by endpoint", ["endpoint"],
    registry=None,
)  # fmt: skip
EVENTS = (
    SUBMISSIONS,
    TRIAGE,
    DELIVERY_ATTEMPTS,
    SPEED_TO_LEAD,
    WEBHOOKS,
    HTTP_REQUESTS,
    HTTP_LATENCY,
)


def label(value: str | None) -> str:
    """`value` if it is one of our words, else "other"."""
    return value if value is not None and _LABEL.match(value) else "other"


def count_submission(form: str, outcome: str) -> None:
    SUBMISSIONS.labels(label(form), label(outcome)).inc()


def count_triage(priority: str) -> None:
    TRIAGE.labels(label(priority)).inc()


def count_attempt(channel: str, outcome: str) -> None:
    DELIVERY_ATTEMPTS.labels(label(channel), label(outcome)).inc()


def observe_speed_to_lead(kind: str, seconds: float) -> None:
    SPEED_TO_LEAD.labels(label(kind)).observe(max(0.0, seconds))


# The team's first email about a lead: the new-lead email, or the urgent page's.
SPEED_TO_LEAD_TEMPLATES = {"team_new_lead": "new_lead", "team_urgent_page": "urgent"}


def count_sent(
    message: Message,
    outcome: str,
    now: dt.datetime,
    *,
    lead_created_at: dt.datetime | None,
    team_inbox: bool,
) -> None:
    """A provider accepted `message` (sent, or adopted after a lost send): count the attempt, and
    for the team's first email about a lead, the time from the lead's creation to now.
    `team_inbox`: its kind reaches the team's addresses (the email, not the on-call text)."""
    count_attempt(message.channel, outcome)
    kind = SPEED_TO_LEAD_TEMPLATES.get(message.template_key)
    if kind is None or not team_inbox or message.step_key != "first" or lead_created_at is None:
        return
    observe_speed_to_lead(kind, (now - lead_created_at).total_seconds())


def count_webhook(source: str, verdict: str) -> None:
    WEBHOOKS.labels(label(source), label(verdict)).inc()


# --- multiprocess mode ------------------------------------------------------------------------


def process_identity(pid: int | None = None) -> str:
    """The name of a process's files: host and pid, since containers sharing the folder each
    number their processes from 1."""
    return f"{socket.gethostname()}-{os.getpid() if pid is None else pid}"


def use_multiprocess(directory: Path | None) -> None:
    """Keep this process's counters in files under `directory` (None: in memory).

    prometheus-client's own multiprocess values name a file by the pid alone; ours add the host.
    Called before any labelled child exists (every metric above has labels), so every value is
    made by this class; a forked child notices its new pid and starts files of its own.
    """
    if directory is None:
        return
    # The library writes where this variable points: make it the folder the settings checked.
    os.environ.update(PROMETHEUS_MULTIPROC_DIR=str(directory))
    values.ValueClass = values.MultiProcessValue(process_identifier=process_identity)


def mark_process_dead(pid: int, directory: Path | None) -> None:
    """Drop a dead process's live gauges (gunicorn's child_exit, a Celery process's exit).

    Its counters stay: what it counted happened, and the totals must not go down.
    """
    if directory is not None:
        multiprocess.mark_process_dead(process_identity(pid), str(directory))


# --- what is read at scrape time -------------------------------------------------------------


class DatabaseCollector(Collector):
    """Gauges from the ledger: messages by status, what is due and unsent, the outbox."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        messages = GaugeMetricFamily(
            "intake_messages", "Messages by channel and status", labels=["channel", "status"]
        )
        due = GaugeMetricFamily(
            "intake_messages_due",
            "Messages due now and not yet accepted by a provider (planned, queued, sending)",
            labels=["channel"],
        )
        oldest_due = GaugeMetricFamily(
            "intake_oldest_due_message_seconds",
            "How long the longest-waiting due, unsent message has been due",
        )
        backlog = GaugeMetricFamily("intake_outbox_pending", "Outbox events not yet processed")
        oldest = GaugeMetricFamily(
            "intake_outbox_oldest_pending_seconds", "Age of the oldest unprocessed outbox event"
        )
        leads = GaugeMetricFamily("intake_leads", "Leads by status", labels=["status"])
        now = utcnow()
        with self.db.session() as session:
            for channel, status, count in session.execute(
                select(Message.channel, Message.status, func.count()).group_by(
                    Message.channel, Message.status
                )
            ):
                messages.add_metric([label(channel), label(status)], count)
            earliest = None
            counts = dict.fromkeys(CHANNELS, 0)  # 0 rather than absent: alerts compare it
            for channel, count, first in session.execute(
                select(Message.channel, func.count(), func.min(Message.due_at))
                .where(Message.status.in_(UNSENT), Message.due_at <= now)
                .group_by(Message.channel)
            ):
                counts[label(channel)] = count
                earliest = first if earliest is None else min(earliest, first)
            for channel, count in counts.items():
                due.add_metric([channel], count)
            for status, count in session.execute(
                select(Lead.status, func.count()).group_by(Lead.status)
            ):
                leads.add_metric([label(status)], count)
            pending, first_event = session.execute(
                select(func.count(), func.min(OutboxEvent.created_at)).where(
                    OutboxEvent.processed_at.is_(None)
                )
            ).one()
        oldest_due.add_metric([], (now - earliest).total_seconds() if earliest else 0)
        backlog.add_metric([], pending)
        oldest.add_metric([], (now - first_event).total_seconds() if first_event else 0)
        yield from (messages, due, oldest_due, backlog, oldest, leads)


# kombu's Redis transport keeps a queue's tasks of priority p > 0 under "<queue>\x06\x16<p>"
# (its default steps 0, 3, 6, 9).
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def redis_keys(queue: str) -> tuple[str, ...]:
    """The Redis lists holding `queue`'s waiting tasks, in the order a worker reads them."""
    return tuple(queue + suffix for suffix in _PRIORITY_SUFFIXES)


class BrokerCollector(Collector):
    """Length of each Celery queue (the default and one per delivery lane) on a Redis broker."""

    def __init__(self, broker_url: str, queues: tuple[str, ...]) -> None:
        import redis

        self.queues = queues
        # Short timeouts: a scrape must answer even while Redis is away (the gauge is then absent
        # and intake_broker_up says 0).
        self.client: Any = redis.Redis.from_url(
            broker_url, socket_connect_timeout=1, socket_timeout=1
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lengths = GaugeMetricFamily(
            "intake_broker_queue_length", "Tasks waiting in each broker queue", labels=["queue"]
        )
        up = GaugeMetricFamily("intake_broker_up", "1 when the broker answered this scrape")
        try:
            pipeline = self.client.pipeline(transaction=False)
            keys = [redis_keys(queue) for queue in self.queues]
            for key in (key for per_queue in keys for key in per_queue):
                pipeline.llen(key)
            counts = iter(pipeline.execute())
        except Exception:  # any failure: say the broker is away, never fail the scrape
            up.add_metric([], 0)
            yield up
            return
        for queue, per_queue in zip(self.queues, keys, strict=True):
            lengths.add_metric([label(queue)], sum(next(counts) for _ in per_queue))
        up.add_metric([], 1)
        yield from (lengths, up)


def build_registry(
    db: Database, broker_url: str, queues: tuple[str, ...], directory: Path | None
) -> CollectorRegistry:
    """The registry /metrics serves: the events (every process's files, or this process's
    memory), the ledger's gauges and, on Redis, the queue lengths."""
    registry = CollectorRegistry()
    if directory is not None:
        multiprocess.MultiProcessCollector(registry, path=str(directory))
    else:
        for metric in EVENTS:
            registry.register(metric)
    registry.register(DatabaseCollector(db))
    if broker_url.startswith(("redis://", "rediss://")):
        registry.register(BrokerCollector(broker_url, queues))
    return registry
