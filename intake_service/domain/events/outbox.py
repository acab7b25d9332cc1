"""The transactional outbox: events committed with the lead, published to the broker after.

The broker carries only lead ids. If it is unreachable when a lead arrives, the event stays
unpublished in the database and the periodic sweep publishes it later: an outage delays, never
loses.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, bindparam, or_, select, update
from sqlalchemy.orm import Session

from intake_service.broker import Broker, broker_in_context
from intake_service.db import Database, utcnow
from intake_service.models import OutboxEvent

log = logging.getLogger(__name__)

LEAD_SUBMITTED = "lead.submitted"
# An event younger than this is still being published by the request that wrote it.
IN_FLIGHT_GRACE = dt.timedelta(seconds=5)


# Built once: what the sweep reads to skip the events that went.
_MARK_PUBLISHED = (
    update(OutboxEvent)
    .where(OutboxEvent.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("at"), publish_count=OutboxEvent.publish_count + 1)
)


# A request's own event is written as published (new_event), so the success it hopes for needs
# no UPDATE; this undoes that record for an event the broker refused.
_UNMARK_PUBLISHED = (
    update(OutboxEvent)
    .where(OutboxEvent.id == bindparam("event_id"))
    .values(published_at=None, publish_count=OutboxEvent.publish_count - 1)
)


def publishing_now() -> bool:
    """Whether the request writing an event now is to publish it itself, right after its commit:
    the app's broker is there and has not failed in the last few seconds."""
    door = broker_in_context()
    return door is not None and not door.backing_off()


def new_event(lead_id: uuid.UUID, now: dt.datetime, *, publishing: bool) -> dict[str, Any]:
    """The row of a lead's submitted event, written in the submission's transaction.

    When the request will publish it (`publishing`, from publishing_now), the row records the
    publish ahead of it: the commit then costs no second write once the broker has the task,
    only when it refuses (publish_new). Should the process die between its commit and its
    publish, the event looks published and the sweep sends it after OUTBOX_REPUBLISH_AFTER,
    as it does for a task the broker lost: a rare delay, never a loss.
    """
    return {
        "kind": LEAD_SUBMITTED,
        "lead_id": lead_id,
        "created_at": now,
        "published_at": now if publishing else None,
        "publish_count": 1 if publishing else 0,
    }


def publish_new(db: Database, event_id: int, lead_id: uuid.UUID, connection: Connection) -> bool:
    """Publish the event new_event(publishing=True) recorded as published; True when it went.

    Never raises for the broker: when it refuses, the record is undone on `connection` (outside
    any transaction on it), so the sweep publishes the event once the broker is back.
    """
    door = broker_in_context()
    if door is not None and _sent(door, event_id, lead_id):
        return True
    _write(db, connection, _UNMARK_PUBLISHED, {"event_id": event_id})
    return False


def _sent(door: Broker, event_id: int, lead_id: uuid.UUID) -> bool:
    """Hand one event's lead to the broker; False (and a backoff) when the broker refused."""
    try:
        door.process_lead(lead_id)
    except Exception as error:  # the broker's client raises many kinds; all mean "later"
        log.warning("outbox event %s not published yet (%s)", event_id, type(error).__name__)
        door.record_failure()
        return False
    return True


def publish(
    db: Database,
    events: Iterable[int | tuple[int, uuid.UUID]],
    *,
    force: bool = False,
    broker: Broker | None = None,
    connection: Connection | None = None,
) -> int:
    """Hand committed events to the broker (the current app's unless given); returns how many
    went. Never raises for the broker.

    `events` are event ids, or (event id, lead id) pairs when the caller has just written them:
    those are not read back. Skipped for a few seconds after the broker failed, unless `force`
    (the sweep forces), and when called outside an app with no broker given: publishing now is
    for speed to lead, the sweep is what guarantees that every event goes. The record of the
    publish is written on `connection` when given (outside any transaction on it), else on a
    connection of its own.
    """
    door = broker or broker_in_context()
    if door is None:
        log.debug("no broker outside an app context; the outbox sweep will publish")
        return 0
    if not force and door.backing_off():
        return 0
    pending = _with_leads(db, list(events))
    published: list[int] = []
    for event_id, lead_id in pending:
        if not _sent(door, event_id, lead_id):
            break  # the rest would fail the same way; the sweep has them all
        published.append(event_id)
    if published:
        # One UPDATE for every event that went: the sweep reads it to skip them.
        _write(db, connection, _MARK_PUBLISHED, {"ids": published, "at": utcnow()})
    return len(published)


def _write(
    db: Database, connection: Connection | None, statement: Any, values: dict[str, Any]
) -> None:
    """Run one UPDATE of the outbox in a transaction of its own, on `connection` when given."""
    if connection is not None and connection.dialect.name == "postgresql":
        # One statement is atomic on its own: in autocommit it needs no BEGIN and COMMIT round
        # trips, and is as durable once it returns. (SQLite's writers queue on a lock given
        # back at a transaction's end, sqlite_writes.py: there it keeps its own.)
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(statement, values)
    elif connection is not None:
        with connection.begin():
            connection.execute(statement, values)
    else:
        with db.transaction() as session:
            session.execute(statement, values)


def _with_leads(
    db: Database, events: list[int | tuple[int, uuid.UUID]]
) -> list[tuple[int, uuid.UUID]]:
    """(event id, lead id) for every event, reading only those given without their lead."""
    known = [event for event in events if isinstance(event, tuple)]
    bare = [event for event in events if not isinstance(event, tuple)]
    if not bare:
        return known
    with db.session() as session:
        rows = session.execute(
            select(OutboxEvent.id, OutboxEvent.lead_id).where(OutboxEvent.id.in_(bare))
        ).all()
    return known + [(row.id, row.lead_id) for row in rows]


# An event published again and still not processed waits twice as long before the next time,
# up to 2**MAX_DOUBLINGS periods. Under a backlog (workers behind after an outage) the first
# copy is usually still queued: publishing it every period would flood the queue with copies
# that push the patients' lanes back (broker.LANE_PRIORITY), the storm docs/performance.md saw.
MAX_DOUBLINGS = 4
SWEEP_BATCH = 500


def _due_again(republish_after: dt.timedelta, now: dt.datetime) -> ColumnElement[bool]:
    """Events not yet processed that were never published, or published too long ago for the
    number of times they were."""
    waits: list[ColumnElement[bool]] = [
        OutboxEvent.published_at.is_(None) & (OutboxEvent.created_at < now - IN_FLIGHT_GRACE)
    ]
    for doublings in range(MAX_DOUBLINGS + 1):
        times = doublings + 1
        if doublings == 0:
            counted = OutboxEvent.publish_count <= times
        elif doublings == MAX_DOUBLINGS:
            counted = OutboxEvent.publish_count >= times
        else:
            counted = OutboxEvent.publish_count == times
        waits.append(counted & (OutboxEvent.published_at < now - republish_after * 2**doublings))
    return OutboxEvent.processed_at.is_(None) & or_(*waits)


def sweep(db: Database, republish_after: dt.timedelta, broker: Broker | None = None) -> int:
    """Publish again every event not taken in time; returns how many were published.

    The events are claimed (recorded as published) in a transaction of their own before the
    broker hears of them, so a second sweep running meanwhile (ticks that waited in a backlog
    run back to back) finds them taken. What the broker then refuses gets its record back.
    """
    door = broker or broker_in_context()
    if door is None:
        log.debug("no broker outside an app context; the outbox sweep will publish")
        return 0
    claimed = _claim_due(db, republish_after, utcnow())
    if not claimed:
        return 0
    log.info("outbox sweep republishing %d events", len(claimed))
    for sent, event in enumerate(claimed):
        if not _sent(door, event.id, event.lead_id):
            _give_back(db, claimed[sent:])  # the rest would fail the same way
            return sent
    return len(claimed)


class _Claimed(NamedTuple):
    """An event the sweep recorded as published, and the record it had before."""

    id: int
    lead_id: uuid.UUID
    published_at: dt.datetime | None
    publish_count: int


def _claim_due(db: Database, republish_after: dt.timedelta, now: dt.datetime) -> list[_Claimed]:
    """Record as published now the events due again; returns them with their previous record."""
    due = _due_again(republish_after, now)
    with db.transaction() as session:
        # PostgreSQL: rows another sweep holds are skipped, and one it committed meanwhile is
        # read again and no longer due. SQLite ignores the lock; its one writer and the UPDATE's
        # own condition keep a second sweep from claiming the same events.
        found = session.execute(
            select(
                OutboxEvent.id,
                OutboxEvent.lead_id,
                OutboxEvent.published_at,
                OutboxEvent.publish_count,
            )
            .where(due)
            .order_by(OutboxEvent.id)
            .limit(SWEEP_BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        if not found:
            return []
        taken = set(
            session.scalars(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_([row.id for row in found]), due)
                .values(published_at=now, publish_count=OutboxEvent.publish_count + 1)
                .returning(OutboxEvent.id)
            )
        )
    return [_Claimed(*row) for row in found if row.id in taken]


# An event the broker refused gets back the record it had, unless it was published since.
_GIVE_BACK = (
    update(OutboxEvent)
    .where(
        OutboxEvent.id == bindparam("event_id"),
        OutboxEvent.publish_count == bindparam("claimed_count"),
    )
    .values(published_at=bindparam("was_at"), publish_count=bindparam("was_count"))
)


def _give_back(db: Database, events: list[_Claimed]) -> None:
    with db.transaction() as session:
        session.connection().execute(
            _GIVE_BACK,
            [
                {
                    "event_id": event.id,
                    "claimed_count": event.publish_count + 1,
                    "was_at": event.published_at,
                    "was_count": event.publish_count,
                }
                for event in events
            ],
        )


def republish_taken_before(
    db: Database, taken_by: dt.datetime, broker: Broker | None = None
) -> int:
    """Publish again every event not yet processed that was published before `taken_by` (a
    worker that died then may have taken it); returns how many went. Processing is idempotent,
    so an event another worker still has is only processed once more, to no effect."""
    with db.session() as session:
        ids = list(
            session.scalars(
                select(OutboxEvent.id)
                .where(OutboxEvent.processed_at.is_(None), OutboxEvent.published_at <= taken_by)
                .order_by(OutboxEvent.id)
            )
        )
    if ids:
        log.info("republishing %d events a dead worker may have taken", len(ids))
    return publish(db, ids, force=True, broker=broker) if ids else 0


def pending(lead_id: Any) -> ColumnElement[bool]:
    """Whether a submitted event of the lead (a column or bind) awaits processing."""
    return (
        select(OutboxEvent.id)
        .where(OutboxEvent.lead_id == lead_id, OutboxEvent.processed_at.is_(None))
        .exists()
    )


def mark_processed(session: Session, lead_id: uuid.UUID, now: dt.datetime) -> None:
    """Record that the lead's submitted events were taken (not committed)."""
    session.execute(_MARK_PROCESSED, {"of_lead": lead_id, "at": now})


# Run for every lead processed: built once.
_MARK_PROCESSED = (
    update(OutboxEvent)
    .where(OutboxEvent.lead_id == bindparam("of_lead"), OutboxEvent.processed_at.is_(None))
    .values(processed_at=bindparam("at"))
)
