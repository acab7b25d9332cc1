"""Prometheus metrics. Labels carry forms, channels and statuses: never names, phones or answers.

Counts that matter across processes (web, workers) are read from the database at scrape time,
so they are right whatever process serves /metrics.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from intake_service.db import Database, utcnow
from intake_service.models import Lead, Message, OutboxEvent


class DatabaseCollector(Collector):
    """Gauges from the ledger: messages by status, outbox backlog, oldest waiting event."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        messages = GaugeMetricFamily(
            "intake_messages", "Messages by channel and status", labels=["channel", "status"]
        )
        backlog = GaugeMetricFamily("intake_outbox_pending", "Outbox events not yet processed")
        oldest = GaugeMetricFamily(
            "intake_outbox_oldest_pending_seconds", "Age of the oldest unprocessed outbox event"
        )
        leads = GaugeMetricFamily("intake_leads", "Leads by status", labels=["status"])
        with self.db.session() as session:
            for channel, status, count in session.execute(
                select(Message.channel, Message.status, func.count()).group_by(
                    Message.channel, Message.status
                )
            ):
                messages.add_metric([channel, status], count)
            for status, count in session.execute(
                select(Lead.status, func.count()).group_by(Lead.status)
            ):
                leads.add_metric([status], count)
            pending, first = session.execute(
                select(func.count(), func.min(OutboxEvent.created_at)).where(
                    OutboxEvent.processed_at.is_(None)
                )
            ).one()
        backlog.add_metric([], pending)
        oldest.add_metric([], (utcnow() - first).total_seconds() if first is not None else 0)
        yield from (messages, backlog, oldest, leads)


def build_registry(db: Database) -> tuple[CollectorRegistry, Counter, Histogram]:
    """A registry per app (tests build many apps), with the HTTP request metrics."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db))
    requests = Counter(
        "intake_http_requests",
        "HTTP requests by endpoint and status",
        ["endpoint", "status"],
        registry=registry,
    )
    latency = Histogram(
        "intake_http_request_seconds", "HTTP request latency by endpoint", ["endpoint"],
        registry=registry,
    )  # fmt: skip
    return registry, requests, latency
