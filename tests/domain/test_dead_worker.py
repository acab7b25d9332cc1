"""A worker process that stops beating: what it held is handed on at once, never sent twice.

The worker is this test process, registered as one (liveness.start) the way a Celery worker
registers at start; its death is its heartbeat thread stopping with its row left behind, as
kill -9 leaves it, and the row aged past DELIVERY_WORKER_DEAD_AFTER. The kill itself is the
channel interception of test_reconcile.py: the row is left `sending`, its attempt open.

Run on SQLite and on PostgreSQL (where the heartbeat's clock is the database's).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain.events import outbox
from intake_service.domain.outreach import liveness, scheduler
from intake_service.models import MessageStatus, OutboxEvent, WorkerHeartbeat
from tests.domain.builders import (
    attempts_of,
    database,
    deliver,
    find,
    message,
    process,
    set_columns,
    settings_of,
    submit,
)
from tests.support.channels import WorkerKilled, intercepted, kill
from tests.support.twilio_standin import TwilioStandin


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    return backend_url


@pytest.fixture(autouse=True)
def no_worker_yet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts as a process that is no worker, and leaves no heartbeat thread."""
    monkeypatch.setattr(liveness, "_current", None)
    yield
    die()


def die() -> None:
    """kill -9 of this process as a worker: the heartbeat stops, its row stays."""
    beat = liveness._current
    if beat is not None:
        beat.stop.set()
    liveness._current = None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def age_heartbeats(db: Database, seconds: float) -> None:
    with db.transaction() as session:
        session.execute(
            sa.update(WorkerHeartbeat).values(seen_at=utcnow() - dt.timedelta(seconds=seconds))
        )


def claim_due(app: Flask) -> list[int]:
    return scheduler.claim_due(database(app), settings_of(app).delivery)


def text_held_by_a_killed_worker(app: Flask) -> tuple[int, str]:
    """A text the provider took from a worker process that died before recording it."""
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    sms_id = find(app, lead_id, "first", "sms").id
    worker = liveness.start(db, settings_of(app).delivery.worker_dead_after)
    with intercepted(db, after=kill), pytest.raises(WorkerKilled):
        deliver(app, sms_id)
    die()
    return sms_id, worker


def test_a_dead_workers_text_is_taken_over_at_once_and_adopted_not_resent(
    ready_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = ready_app(**twilio_standin.env())
    db = database(app)
    dead_after = settings_of(app).delivery.worker_dead_after
    sms_id, worker = text_held_by_a_killed_worker(app)
    held = message(db, sms_id)
    assert (held.status, held.held_by) == (MessageStatus.SENDING, worker)

    # Still beating, as far as anyone can tell: a live send is never taken.
    age_heartbeats(db, dead_after - 5)
    assert claim_due(app) == []

    age_heartbeats(db, dead_after + 1)
    # Seconds old, far younger than DELIVERY_STALE_AFTER: only the heartbeat says it is dead.
    assert utcnow() - held.sending_started_at < dt.timedelta(seconds=30)
    assert claim_due(app) == [sms_id]
    requeued = message(db, sms_id)
    assert (requeued.status, requeued.needs_reconcile, requeued.held_by) == (
        MessageStatus.QUEUED,
        True,
        None,
    )
    outcome = deliver(app, sms_id)

    assert outcome.status == MessageStatus.SENT
    assert sum(1 for r in twilio_standin.requests if r.method == "POST") == 1
    assert [o for _, o, _ in attempts_of(db, sms_id)] == ["abandoned", "adopted"]


def test_a_live_workers_send_is_left_alone_when_another_worker_dies(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    db = database(app)
    sms_id, _ = text_held_by_a_killed_worker(app)
    # The holder is alive (beating now); some other process died long ago.
    age_heartbeats(db, 0)
    with db.transaction() as session:
        session.add(
            WorkerHeartbeat(
                id="f" * 32, hostname="elsewhere", pid=1, seen_at=utcnow() - dt.timedelta(hours=1)
            )
        )

    assert claim_due(app) == []
    assert message(db, sms_id).status == MessageStatus.SENDING


def test_what_a_dead_worker_may_have_taken_from_the_broker_is_handed_on_once(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    db, policy = database(app), settings_of(app).delivery
    lead_id = submit(app)
    before, after, *_ = process(app, lead_id)  # queued: their ids went to the broker
    liveness.start(db, policy.worker_dead_after)
    die()
    assert scheduler.claim_orphans(db, policy) is None  # it beat a moment ago

    died = utcnow() - dt.timedelta(seconds=policy.worker_dead_after + 5)
    age_heartbeats(db, policy.worker_dead_after + 5)
    # One was put on the broker before the death (the dead worker may have taken it), one
    # well after (it cannot have).
    set_columns(db, before, queued_at=died - dt.timedelta(seconds=1))
    set_columns(db, after, queued_at=died + dt.timedelta(seconds=10))
    orphans = scheduler.claim_orphans(db, policy)

    assert orphans is not None
    assert [due.id for due in orphans.messages] == [before]
    assert died < orphans.taken_by < died + dt.timedelta(seconds=10)
    assert message(db, before).status == MessageStatus.QUEUED
    assert utcnow() - message(db, before).queued_at < dt.timedelta(seconds=5)
    # Noticed once: the next tick hands nothing on again.
    assert scheduler.claim_orphans(db, policy) is None


def test_events_published_before_the_death_are_published_again(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    db = database(app)
    submit(app)
    published = utcnow() - dt.timedelta(seconds=1)
    with db.transaction() as session:
        session.execute(sa.update(OutboxEvent).values(published_at=published))
    sent: list[object] = []

    class Door:
        def backing_off(self) -> bool:
            return False

        def process_lead(self, lead_id: object) -> None:
            sent.append(lead_id)

    assert outbox.republish_taken_before(db, published - dt.timedelta(seconds=1), Door()) == 0  # type: ignore[arg-type]
    assert outbox.republish_taken_before(db, published, Door()) == 1  # type: ignore[arg-type]
    assert len(sent) == 1


def test_a_worker_whose_heartbeat_is_late_sends_nothing(
    ready_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = ready_app(**twilio_standin.env())
    db, policy = database(app), settings_of(app).delivery
    lead_id = submit(app)
    process(app, lead_id)
    sms_id = find(app, lead_id, "first", "sms").id
    liveness.start(db, policy.worker_dead_after)
    # Its heartbeats have not gone through for a while (the database was away): it may look
    # dead to the others, who would take the text over.
    assert liveness._current is not None
    liveness._current.last_ok = time.monotonic() - policy.worker_dead_after / 4 - 1

    outcome = deliver(app, sms_id)

    assert (outcome.status, outcome.detail) == (MessageStatus.PLANNED, "worker heartbeat late")
    assert twilio_standin.requests == []


def test_the_heartbeat_keeps_the_row_fresh_and_a_clean_stop_removes_it(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    db = database(app)
    worker = liveness.start(db, 1.0)  # a beat every 0.2 s
    assert liveness.start(db, 1.0) == worker  # once per process
    age_heartbeats(db, 30)
    with db.transaction() as session:
        session.execute(sa.update(WorkerHeartbeat).values(buried_at=utcnow()))

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        row = _heartbeat(db, worker)
        if row is not None and utcnow() - row.seen_at < dt.timedelta(seconds=5):
            break
        time.sleep(0.05)
    row = _heartbeat(db, worker)
    assert row is not None and utcnow() - row.seen_at < dt.timedelta(seconds=5)
    assert row.buried_at is None  # alive again, so its real death will be noticed

    liveness.stop(db)
    assert _heartbeat(db, worker) is None
    assert liveness.holder() is None


def _heartbeat(db: Database, worker: str) -> WorkerHeartbeat | None:
    with db.session() as session:
        return session.get(WorkerHeartbeat, worker)
