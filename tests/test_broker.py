"""The door to Celery: each app publishes through its own broker and backs off on its own."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from celery import Celery
from celery.contrib.testing.worker import start_worker
from flask import Flask

from intake_service import broker, metrics
from intake_service.broker import Broker
from intake_service.domain import intake
from intake_service.models import OutboxEvent
from tests.domain.builders import database, submission
from tests.support.services import unique_name

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def queue(redis_url: str) -> Iterator[str]:
    name = unique_name("intake_broker_queue")
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name, *client.keys(f"*{name}*"))


def redis_tasks(redis_url: str, queue: str) -> list[tuple[str, list[Any]]]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    found = []
    # Every priority's list of the queue ("<queue>", "<queue>\x06\x163", ...), first read first.
    for raw in (raw for key in metrics.redis_keys(queue) for raw in client.lrange(key, 0, -1)):
        assert isinstance(raw, str)
        envelope = json.loads(raw)
        args = json.loads(base64.b64decode(envelope["body"]))[0]
        found.append((envelope["headers"]["task"], args))
    return found


def sql_broker_messages(broker_file: Path, queue: str) -> int:
    """Messages waiting in `queue` of the embedded broker (intake_service/embedded_broker.py)."""
    connection = sqlite3.connect(broker_file)
    try:
        (count,) = connection.execute(
            "SELECT count(*) FROM queue_messages WHERE queue = ? AND taken = 0", (queue,)
        ).fetchone()
        return int(count)
    finally:
        connection.close()


def submit_in(app: Flask) -> str:
    with app.app_context():
        return str(intake.submit(database(app), submission()).lead_id)


def published(app: Flask, lead_id: str) -> bool:
    with database(app).session() as session:
        event = session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.lead_id == uuid.UUID(lead_id))
        ).one()
        return event.published_at is not None


def test_two_apps_in_one_process_each_publish_to_their_own_broker(
    make_app: Callable[..., Flask], redis_url: str, queue: str, tmp_path: Path
) -> None:
    on_redis = make_app(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue)
    broker_file = tmp_path / "second-broker.sqlite"
    # Made last, so "the current Celery app" would be this one if anything asked for it.
    embedded = make_app(
        DATABASE_URL=f"sqlite:///{tmp_path / 'second.sqlite'}",
        CELERY_BROKER_URL=f"sqla+sqlite:///{broker_file}",
        CELERY_QUEUE="second_app_queue",
    )

    first = submit_in(on_redis)
    second = submit_in(embedded)

    assert redis_tasks(redis_url, queue) == [(broker.PROCESS_LEAD, [first])]
    assert sql_broker_messages(broker_file, "second_app_queue") == 1
    assert published(on_redis, first) and published(embedded, second)


def test_a_broker_outage_backs_off_only_the_app_that_met_it(
    make_app: Callable[..., Flask], redis_url: str, queue: str, tmp_path: Path
) -> None:
    down = make_app(CELERY_BROKER_URL=UNREACHABLE_BROKER)
    up = make_app(
        DATABASE_URL=f"sqlite:///{tmp_path / 'up.sqlite'}",
        CELERY_BROKER_URL=redis_url,
        CELERY_QUEUE=queue,
    )

    lost = submit_in(down)
    taken = submit_in(up)

    assert down.extensions[broker.EXTENSION_KEY].backing_off()
    assert not up.extensions[broker.EXTENSION_KEY].backing_off()
    assert not published(down, lost)
    assert published(up, taken)
    assert redis_tasks(redis_url, queue) == [(broker.PROCESS_LEAD, [taken])]


def test_backoff_lasts_its_period_and_then_the_broker_is_tried_again(
    make_app: Callable[..., Flask],
) -> None:
    now = [100.0]
    door = Broker(make_app().extensions["celery"], backoff=5.0, clock=lambda: now[0])

    assert not door.backing_off()
    door.record_failure()
    now[0] += 4.9
    assert door.backing_off()
    now[0] += 0.2
    assert not door.backing_off()


def test_each_app_registers_every_task_on_its_own_celery_under_the_names_sent(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    one = make_app()
    other = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'other.sqlite'}")
    beat = {
        broker.DISPATCH_DUE,
        broker.SWEEP_OUTBOX,
        broker.REPAGE_URGENT,
        broker.PURGE_RETENTION,
        broker.REMIND_CALLBACKS,
        broker.ESCALATE_UNCLAIMED,
        broker.APPLY_PENDING_STATUS,
    }
    names = {broker.PROCESS_LEAD, broker.DELIVER, *beat}

    for app in (one, other):
        celery = app.extensions["celery"]
        assert names <= set(celery.tasks)
        assert all(celery.tasks[name].app is celery for name in names)
    scheduled = {entry["task"] for entry in one.extensions["celery"].conf.beat_schedule.values()}
    assert scheduled == beat


def test_a_delivery_waits_on_its_lanes_queue_and_names_only_its_id(
    make_app: Callable[..., Flask], redis_url: str, queue: str
) -> None:
    door: Broker = make_app(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue).extensions[
        broker.EXTENSION_KEY
    ]

    door.deliver(7, "sms")
    door.deliver(8, "email")
    door.deliver(6, "team")
    door.deliver(9)

    assert redis_tasks(redis_url, f"{queue}.sms") == [(broker.DELIVER, [7])]
    assert redis_tasks(redis_url, f"{queue}.email") == [(broker.DELIVER, [8])]
    assert redis_tasks(redis_url, f"{queue}.team") == [(broker.DELIVER, [6])]
    assert redis_tasks(redis_url, queue) == [(broker.DELIVER, [9])]
    with pytest.raises(ValueError):
        door.deliver(10, "fax")


def test_under_a_backlog_a_worker_takes_team_alerts_and_processing_before_patient_messages(
    make_app: Callable[..., Flask], redis_url: str, queue: str
) -> None:
    """Speed to lead: the team hears of each lead first; patient texts, then email, wait."""
    service = make_app(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue)
    door: Broker = service.extensions[broker.EXTENSION_KEY]
    for index in range(3):  # a backlog in every queue, patient messages published first
        door.deliver(300 + index, "email")
        door.deliver(200 + index, "sms")
        door.deliver(100 + index, "team")
        door.deliver(index)  # the default queue, as lead processing

    # A worker reading the service's queues, as production's does, that records what it takes.
    probe = Celery("probe", broker=redis_url, set_as_current=False)
    probe.conf.update(
        {
            key: service.extensions["celery"].conf[key]
            for key in ("task_queues", "task_default_queue", "broker_transport_options")
        },
        worker_prefetch_multiplier=1,
        task_acks_late=True,
    )
    taken: list[int] = []

    # shared=False: a shared task would be added to every Celery app this process makes later,
    # the service's too, in place of its real deliver.
    @probe.task(name=broker.DELIVER, shared=False)
    def record(message_id: int) -> None:
        taken.append(message_id)

    with start_worker(probe, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 20
        while len(taken) < 12 and time.monotonic() < deadline:
            time.sleep(0.05)

    assert len(taken) == 12, taken
    assert set(taken[:6]) == {0, 1, 2, 100, 101, 102}, taken
    assert taken[6:9] == [200, 201, 202], taken
    assert taken[9:] == [300, 301, 302], taken
