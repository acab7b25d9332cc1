"""/metrics after real submissions and deliveries: counts what happened, names nobody, and
opens only to the scraper that holds METRICS_TOKEN."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from intake_service.config import ConfigError
from intake_service.config.operations import operations_settings
from intake_service.db import Database
from intake_service.domain.outreach import delivery, processing
from tests.domain.builders import load_templates

TOKEN = "metrics-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DOCS = Path(__file__).resolve().parents[2] / "docs"
DASHBOARD = DOCS / "grafana" / "intake-dashboard.json"
OPERATIONS = DOCS / "operations.md"

# What the posts below carry about people; none of it may reach a label.
NAME, SURNAME = "Zebedee", "Quillfeather"
EMAIL, PHONE = "zebedee.quill@example.com", "+13105550177"
CRISIS = "I want to end my life tonight"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(app: Flask) -> str:
    response = app.test_client().get("/metrics", headers=AUTH)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post(app: Flask, **fields: object) -> tuple[int, dict[str, object]]:
    document = {
        "form": "contact",
        "contact": {"first_name": NAME, "last_name": SURNAME, "email": EMAIL, "phone": PHONE},
        "consent": {"sms": True},
        **fields,
    }
    response = app.test_client().post("/api/v1/submissions", json=document)
    return response.status_code, response.get_json() or {}


def work_through(app: Flask, lead_id: str) -> None:
    """What the worker does: process the lead, then deliver each message due now."""
    db: Database = app.extensions["intake.db"]
    settings = app.extensions["intake.settings"]
    for message_id in processing.process_lead(db, settings, uuid.UUID(lead_id)):
        delivery.deliver(db, settings, message_id)


@pytest.fixture
def metrics_app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app(METRICS_TOKEN=TOKEN)
    load_templates(app.extensions["intake.db"])
    return app


def test_metrics_count_real_submissions_and_deliveries_and_name_nobody(metrics_app: Flask) -> None:
    before = samples(scrape(metrics_app))

    status, plain = post(metrics_app, message="Please call me about TMS.")
    assert status == 201
    work_through(metrics_app, str(plain["lead_id"]))
    # The same person again: joins the lead.
    assert post(metrics_app, message="Also, evenings are best.")[0] == 201
    status, crisis = post(
        metrics_app,
        contact={"first_name": "Ophelia", "last_name": "Marchbanks", "email": "om@example.org"},
        consent={"sms": False},
        message=CRISIS,
    )
    assert status == 201 and crisis["urgent"] is True
    work_through(metrics_app, str(crisis["lead_id"]))
    assert post(metrics_app, contact={"first_name": NAME})[0] == 422  # no email, no phone
    text = scrape(metrics_app)
    after = samples(text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("intake_submissions_total", form="contact", outcome="accepted") == 2
    assert grew("intake_submissions_total", form="contact", outcome="duplicate") == 1
    assert grew("intake_submissions_total", form="contact", outcome="invalid") == 1
    assert grew("intake_triage_total", priority="urgent") == 1
    assert grew("intake_triage_total", priority="normal") == 1
    assert grew("intake_delivery_attempts_total", channel="email", outcome="sent") >= 3
    assert grew("intake_delivery_attempts_total", channel="sms", outcome="sent") >= 1
    assert grew("intake_speed_to_lead_seconds_count", kind="new_lead") == 1
    assert grew("intake_speed_to_lead_seconds_count", kind="urgent") == 1
    assert value(after, "intake_messages", channel="email", status="sent") >= 3
    assert "intake_oldest_due_message_seconds" in text
    assert "intake_outbox_pending" in text

    # Nothing about the people: names, contact points, their words, or which lead they are.
    people = (NAME, SURNAME, EMAIL, PHONE, PHONE[2:], "Ophelia", "Marchbanks", "om@example.org")
    for personal in (*people, CRISIS, "end my life", "TMS.", plain["lead_id"], crisis["lead_id"]):
        assert str(personal) not in text, personal
    assert "@" not in text


def test_metrics_count_refused_webhooks_and_rate_limits(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        METRICS_TOKEN=TOKEN, RATELIMIT_ENABLED="true", RATELIMIT_SUBMISSIONS="2 per minute"
    )
    before = samples(scrape(app))
    client = app.test_client()
    assert (
        client.post("/webhooks/twilio/sms", data={"From": PHONE, "Body": "hi"}).status_code == 403
    )
    # Every door shares the client's budget: this post takes one of the two.
    assert client.post("/webhooks/forms/nobody", json={}).status_code == 404
    statuses = [post(app)[0] for _ in range(2)]
    assert statuses == [201, 429]
    after = samples(scrape(app))

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("intake_webhooks_total", source="twilio_sms", verdict="bad_signature") == 1
    assert grew("intake_webhooks_total", source="form_builder", verdict="unknown_source") == 1
    # Refused by the limiter before its body was read: which form it was is not known.
    assert grew("intake_submissions_total", form="unknown", outcome="limited") == 1


def test_due_messages_and_their_age_come_from_the_database(metrics_app: Flask) -> None:
    status, answer = post(metrics_app)
    assert status == 201
    db: Database = metrics_app.extensions["intake.db"]
    # Processed but not delivered: the first messages are due and unsent.
    processing.process_lead(
        db, metrics_app.extensions["intake.settings"], uuid.UUID(str(answer["lead_id"]))
    )
    after = samples(scrape(metrics_app))
    assert value(after, "intake_messages_due", channel="email") >= 1
    assert value(after, "intake_oldest_due_message_seconds") >= 0


def test_queue_lengths_are_read_from_redis(make_app: Callable[..., Flask], redis_url: str) -> None:
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    app = make_app(METRICS_TOKEN=TOKEN, CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue)
    client = redis.Redis.from_url(redis_url)
    try:
        client.lpush(f"{queue}.email", "a", "b")
        client.lpush(f"{queue}.sms", "c")
        after = samples(scrape(app))
    finally:
        client.delete(f"{queue}.email", f"{queue}.sms")
    assert value(after, "intake_broker_queue_length", queue=f"{queue}.email") == 2
    assert value(after, "intake_broker_queue_length", queue=f"{queue}.sms") == 1
    assert value(after, "intake_broker_queue_length", queue=f"{queue}.team") == 0
    assert value(after, "intake_broker_up") == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_metrics_need_the_token(metrics_app: Flask, headers: dict[str, str]) -> None:
    response = metrics_app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.get_data() == b""


def test_production_refuses_to_start_without_a_metrics_token() -> None:
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        operations_settings({}, production=True)
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        operations_settings({"METRICS_TOKEN": "short"}, production=True)
    assert operations_settings({"METRICS_TOKEN": TOKEN}, production=True).metrics_token == TOKEN


def test_a_metrics_folder_that_is_not_there_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        operations_settings({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")}, False)


def test_the_dashboard_queries_only_metrics_that_exist(
    make_app: Callable[..., Flask], redis_url: str
) -> None:
    # On Redis, so the broker's gauges are there too; after a lead went all the way through.
    queue = f"dash-{uuid.uuid4().hex[:8]}"
    metrics_app = make_app(METRICS_TOKEN=TOKEN, CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue)
    load_templates(metrics_app.extensions["intake.db"])
    status, answer = post(metrics_app)
    assert status == 201
    work_through(metrics_app, str(answer["lead_id"]))
    metrics_app.test_client().post("/webhooks/twilio/sms", data={})
    exported = {name for name, _ in samples(scrape(metrics_app))}
    broker = redis.Redis.from_url(redis_url)
    broker.delete(queue, *(f"{queue}.{lane}" for lane in ("team", "email", "sms")))

    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    assert len(expressions) >= 8
    used = {name for expr in expressions for name in re.findall(r"\bintake_[a-z_]+", expr)}
    missing = used - exported
    assert not missing, f"the dashboard queries metrics /metrics does not export: {sorted(missing)}"

    # The alerts of docs/operations.md too.
    operations = OPERATIONS.read_text()
    alerts = operations[operations.index("## Alerts worth setting") :].split("\n## ", 1)[0]
    named = set(re.findall(r"\bintake_[a-z_]+", alerts))
    assert len(named) >= 8
    assert not named - exported, f"alerts name unknown metrics: {sorted(named - exported)}"
