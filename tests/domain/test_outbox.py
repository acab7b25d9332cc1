"""The transactional outbox against a real Redis broker: publish, survive an outage, sweep."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from intake_service import broker, metrics
from intake_service.broker import Broker
from intake_service.db import Database, utcnow
from intake_service.domain import intake
from intake_service.domain.events import outbox
from intake_service.models import Message, MessageStatus, OutboxEvent
from tests.domain.builders import (
    PATIENT_EMAIL,
    PATIENT_PHONE,
    database,
    load_templates,
    submission,
)
from tests.support.services import unique_name
from tests.support.statements import counting

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"
REPUBLISH_AFTER = dt.timedelta(seconds=30)


@pytest.fixture
def queue(redis_url: str) -> Iterator[str]:
    """A Redis queue name of this test's own, emptied afterwards."""
    name = unique_name("intake_test_queue")
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name, *client.keys(f"*{name}*"))


def tasks_in(redis_url: str, queue: str) -> list[dict[str, Any]]:
    """The Celery task messages waiting in `queue`: task name, args and the raw message."""
    found = []
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    # Every priority's list of the queue ("<queue>", "<queue>\x06\x163", ...), first read first.
    for raw in (raw for key in metrics.redis_keys(queue) for raw in client.lrange(key, 0, -1)):
        assert isinstance(raw, str)
        envelope = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        found.append({"task": envelope["headers"]["task"], "args": args, "raw": raw})
    return found


def broker_of(app: Flask) -> Broker:
    door: Broker = app.extensions[broker.EXTENSION_KEY]
    return door


def submit_in(app: Flask) -> intake.Accepted:
    """Submit as a request does: inside the app, whose broker gets the event right after."""
    with app.app_context():
        return intake.submit(database(app), submission())


def event_of(db: Database, lead_id: uuid.UUID) -> OutboxEvent:
    with db.session() as session:
        return session.scalars(sa.select(OutboxEvent).where(OutboxEvent.lead_id == lead_id)).one()


def age_events(db: Database, by: dt.timedelta) -> None:
    """Move every event's times into the past, as if `by` had elapsed since."""
    with db.transaction() as session:
        for event in session.scalars(sa.select(OutboxEvent)):
            event.created_at -= by
            if event.published_at is not None:
                event.published_at -= by


@pytest.fixture
def redis_app(make_app: Callable[..., Flask], redis_url: str, queue: str) -> Flask:
    return make_app(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue)


def test_submit_publishes_a_task_carrying_only_the_lead_id(
    redis_app: Flask, redis_url: str, queue: str
) -> None:
    before = dt.datetime.now(dt.UTC)

    lead_id = submit_in(redis_app).lead_id

    event = event_of(database(redis_app), lead_id)
    assert event.published_at is not None and event.published_at >= before
    assert event.publish_count == 1
    (task,) = tasks_in(redis_url, queue)
    assert task["task"] == "intake_service.tasks.process_lead"
    assert task["args"] == [str(lead_id)]
    for personal in ("Jane", "Doe", PATIENT_EMAIL, PATIENT_PHONE, "tried_antidepressants"):
        assert personal not in task["raw"]


def test_a_request_records_its_publish_in_its_own_transaction_and_writes_nothing_after(
    redis_app: Flask, redis_url: str, queue: str
) -> None:
    db = database(redis_app)
    with counting(db.engine) as counts:
        lead_id = submit_in(redis_app).lead_id

    writes = [s for s in counts.statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes[-1].startswith("INSERT INTO outbox_events")  # after it the COMMIT, no UPDATE
    assert [t["args"] for t in tasks_in(redis_url, queue)] == [[str(lead_id)]]
    assert event_of(db, lead_id).publish_count == 1


def test_an_event_whose_request_died_before_publishing_goes_with_the_sweep(
    redis_app: Flask, redis_url: str, queue: str
) -> None:
    """Committed as published, then the process died before the broker heard of it: the sweep
    takes it as it takes a task the broker lost, after OUTBOX_REPUBLISH_AFTER."""
    db = database(redis_app)
    with redis_app.app_context(), db.transaction() as session:
        _answer, event_id = intake.accept(session, submission(), utcnow(), publishing=True)
    assert event_id is not None and tasks_in(redis_url, queue) == []
    door = broker_of(redis_app)

    age_events(db, outbox.IN_FLIGHT_GRACE + dt.timedelta(seconds=1))
    assert outbox.sweep(db, REPUBLISH_AFTER, door) == 0  # it looks published: not yet
    age_events(db, REPUBLISH_AFTER)
    assert outbox.sweep(db, REPUBLISH_AFTER, door) == 1

    assert len(tasks_in(redis_url, queue)) == 1


def test_once_the_broker_failed_the_next_requests_leave_their_events_to_the_sweep(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(CELERY_BROKER_URL=UNREACHABLE_BROKER)
    first = submit_in(app)
    started = time.monotonic()

    second = submit_in(app)  # the broker is backing off: not tried, not recorded as published

    assert time.monotonic() - started < 1
    assert second.lead_id == first.lead_id  # the same person: both events are that lead's
    with database(app).session() as session:
        events = session.execute(sa.select(OutboxEvent.published_at, OutboxEvent.publish_count))
        assert [tuple(event) for event in events] == [(None, 0), (None, 0)]


def test_process_lead_task_hands_each_due_message_on_as_a_task_carrying_only_its_id(
    redis_app: Flask, redis_url: str, queue: str
) -> None:
    db = database(redis_app)
    load_templates(db)
    lead_id = submit_in(redis_app).lead_id
    process_lead = redis_app.extensions["celery"].tasks[broker.PROCESS_LEAD]

    process_lead(str(lead_id))  # run here, as a worker would

    # Team alerts, patient email and patient texts each wait on a queue of their own: neither
    # texts nor patient email can hold the team's email up.
    handed_on = [t for t in tasks_in(redis_url, queue) if t["task"] != broker.PROCESS_LEAD]
    assert handed_on == []
    by_lane = {lane: tasks_in(redis_url, f"{queue}.{lane}") for lane in broker.DELIVERY_LANES}
    handed_on = [task for tasks in by_lane.values() for task in tasks]
    with db.session() as session:
        queued = {
            row.id: "team" if row.audience == "team" else row.channel
            for row in session.execute(
                sa.select(Message.id, Message.channel, Message.audience).where(
                    Message.lead_id == lead_id, Message.status == MessageStatus.QUEUED
                )
            )
        }
    assert queued and sorted(t["args"][0] for t in handed_on) == sorted(queued)
    assert by_lane["team"] and by_lane["sms"]
    for lane, tasks in by_lane.items():
        assert all(queued[t["args"][0]] == lane for t in tasks)
    assert {t["task"] for t in handed_on} == {broker.DELIVER}
    assert all(t["args"] == [t["args"][0]] and isinstance(t["args"][0], int) for t in handed_on)
    for task in handed_on:
        for personal in ("Jane", PATIENT_EMAIL, PATIENT_PHONE, "Sunrise Clinic"):
            assert personal not in task["raw"]


def test_unreachable_broker_still_stores_the_lead_quickly_and_leaves_it_unpublished(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(CELERY_BROKER_URL=UNREACHABLE_BROKER)
    started = time.monotonic()

    accepted = submit_in(app)

    assert time.monotonic() - started < 5
    event = event_of(database(app), accepted.lead_id)
    assert event.published_at is None
    assert event.publish_count == 0


def test_sweep_publishes_the_stored_event_once_the_broker_is_back(
    make_app: Callable[..., Flask], redis_url: str, queue: str
) -> None:
    down = make_app(CELERY_BROKER_URL=UNREACHABLE_BROKER)
    lead_id = submit_in(down).lead_id
    age_events(database(down), outbox.IN_FLIGHT_GRACE + dt.timedelta(seconds=1))
    back = make_app(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue)  # the same database

    published = outbox.sweep(database(back), REPUBLISH_AFTER, broker_of(back))

    assert published == 1
    assert [t["args"] for t in tasks_in(redis_url, queue)] == [[str(lead_id)]]
    event = event_of(database(back), lead_id)
    assert event.published_at is not None
    assert event.publish_count == 1
    assert (
        outbox.sweep(database(back), REPUBLISH_AFTER, broker_of(back)) == 0
    )  # published now: left alone
    assert len(tasks_in(redis_url, queue)) == 1


def test_sweep_with_the_broker_still_down_keeps_the_event_for_later(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(CELERY_BROKER_URL=UNREACHABLE_BROKER)
    lead_id = submit_in(app).lead_id
    age_events(database(app), outbox.IN_FLIGHT_GRACE + dt.timedelta(seconds=1))

    assert outbox.sweep(database(app), REPUBLISH_AFTER, broker_of(app)) == 0
    assert event_of(database(app), lead_id).published_at is None


def test_sweep_leaves_a_young_unpublished_event_to_the_request_publishing_it(
    make_app: Callable[..., Flask], redis_url: str, queue: str
) -> None:
    down = make_app(CELERY_BROKER_URL=UNREACHABLE_BROKER)
    # Made first: the event must still be young (outbox.IN_FLIGHT_GRACE) when the sweep runs,
    # and making an app took seconds on CI's busy machine.
    back = make_app(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue)
    submit_in(down)

    assert outbox.sweep(database(back), REPUBLISH_AFTER, broker_of(back)) == 0
    assert tasks_in(redis_url, queue) == []


def test_sweep_republishes_an_event_published_long_ago_but_never_processed(
    redis_app: Flask, redis_url: str, queue: str
) -> None:
    db = database(redis_app)
    lead_id = submit_in(redis_app).lead_id
    age_events(db, REPUBLISH_AFTER + dt.timedelta(seconds=1))

    assert outbox.sweep(db, REPUBLISH_AFTER, broker_of(redis_app)) == 1

    assert event_of(db, lead_id).publish_count == 2
    assert [t["args"] for t in tasks_in(redis_url, queue)] == [[str(lead_id)]] * 2


def test_sweep_never_republishes_a_processed_event(
    redis_app: Flask, redis_url: str, queue: str
) -> None:
    db = database(redis_app)
    lead_id = submit_in(redis_app).lead_id
    with db.transaction() as session:
        outbox.mark_processed(session, lead_id, dt.datetime.now(dt.UTC))
    age_events(db, REPUBLISH_AFTER + dt.timedelta(hours=1))

    assert outbox.sweep(db, REPUBLISH_AFTER, broker_of(redis_app)) == 0

    assert event_of(db, lead_id).publish_count == 1
    assert len(tasks_in(redis_url, queue)) == 1  # the original publish only


def test_processed_event_that_was_never_published_is_not_published_by_the_sweep(
    make_app: Callable[..., Flask], redis_url: str, queue: str
) -> None:
    down = make_app(CELERY_BROKER_URL=UNREACHABLE_BROKER)
    lead_id = submit_in(down).lead_id
    with database(down).transaction() as session:
        outbox.mark_processed(session, lead_id, dt.datetime.now(dt.UTC))
    age_events(database(down), dt.timedelta(hours=1))
    back = make_app(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue)

    assert outbox.sweep(database(back), REPUBLISH_AFTER, broker_of(back)) == 0
    assert tasks_in(redis_url, queue) == []


def test_submit_outside_an_app_leaves_the_event_to_the_sweep(
    redis_app: Flask, redis_url: str, queue: str
) -> None:
    db = database(redis_app)
    lead_id = intake.submit(db, submission()).lead_id  # no app context: no broker to ask

    assert event_of(db, lead_id).published_at is None
    assert tasks_in(redis_url, queue) == []
    age_events(db, outbox.IN_FLIGHT_GRACE + dt.timedelta(seconds=1))
    assert outbox.sweep(db, REPUBLISH_AFTER, broker_of(redis_app)) == 1
    assert [t["args"] for t in tasks_in(redis_url, queue)] == [[str(lead_id)]]


def test_each_republish_of_an_event_waits_twice_as_long_as_the_last_up_to_a_cap(
    redis_app: Flask, redis_url: str, queue: str
) -> None:
    """Under a backlog the first copy is usually still queued: a copy every period would flood
    the queue and hold the patients' lanes back behind it."""
    db = database(redis_app)
    lead_id = submit_in(redis_app).lead_id
    door = broker_of(redis_app)
    second = dt.timedelta(seconds=1)

    age_events(db, REPUBLISH_AFTER + second)
    assert outbox.sweep(db, REPUBLISH_AFTER, door) == 1  # published twice now
    age_events(db, REPUBLISH_AFTER + second)
    assert outbox.sweep(db, REPUBLISH_AFTER, door) == 0  # two periods for the third time
    age_events(db, REPUBLISH_AFTER)
    assert outbox.sweep(db, REPUBLISH_AFTER, door) == 1
    assert event_of(db, lead_id).publish_count == 3

    cap = 2**outbox.MAX_DOUBLINGS
    with db.transaction() as session:
        session.execute(sa.update(OutboxEvent).values(publish_count=40, published_at=utcnow()))
    age_events(db, REPUBLISH_AFTER * (cap - 1))
    assert outbox.sweep(db, REPUBLISH_AFTER, door) == 0
    age_events(db, REPUBLISH_AFTER + second)
    assert outbox.sweep(db, REPUBLISH_AFTER, door) == 1
    assert len(tasks_in(redis_url, queue)) == 4


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_sweeps_at_once_publish_each_event_once(
    make_app: Callable[..., Flask],
    redis_url: str,
    queue: str,
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Any,
) -> None:
    """Sweep ticks that waited behind a backlog run back to back on two workers: each event
    they find due goes to the broker once, not once per sweep."""
    url = (
        f"sqlite:///{tmp_path / 'intake.sqlite'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    app = make_app(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue, DATABASE_URL=url)
    db, door = database(app), broker_of(app)
    lead_id = submit_in(app).lead_id
    long_ago = utcnow() - dt.timedelta(hours=1)
    with db.transaction() as session:
        session.execute(
            sa.insert(OutboxEvent),
            [
                {"kind": outbox.LEAD_SUBMITTED, "lead_id": lead_id, "created_at": long_ago}
                for _ in range(300)
            ],
        )
    start = threading.Barrier(2)

    def sweep() -> int:
        start.wait()
        return outbox.sweep(db, REPUBLISH_AFTER, door)

    with ThreadPoolExecutor(max_workers=2) as pool:
        swept = [future.result() for future in [pool.submit(sweep) for _ in range(2)]]

    assert sum(swept) == 300, swept
    assert len(tasks_in(redis_url, queue)) == 301  # and the submission's own
    with db.session() as session:
        counts = session.scalars(sa.select(OutboxEvent.publish_count)).all()
    assert sorted(set(counts)) == [1]


def test_an_event_the_broker_refuses_on_a_republish_keeps_its_record(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(CELERY_BROKER_URL=UNREACHABLE_BROKER)
    db = database(app)
    lead_id = submit_in(app).lead_id
    published = utcnow() - REPUBLISH_AFTER * 3
    with db.transaction() as session:
        session.execute(sa.update(OutboxEvent).values(publish_count=1, published_at=published))

    assert outbox.sweep(db, REPUBLISH_AFTER, broker_of(app)) == 0

    event = event_of(db, lead_id)
    assert (event.publish_count, event.published_at) == (1, published)
