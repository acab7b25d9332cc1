"""Which worker processes are alive, so that what a dead one held is handed on at once.

Each process that runs tasks writes a `worker_heartbeats` row when it starts and refreshes it
every `interval()` seconds from a daemon thread; a message it claims for sending records its
id (`messages.held_by`). A row older than `DELIVERY_WORKER_DEAD_AFTER` is a dead process: the
scheduler takes over its `sending` messages (reconciled with the provider before any resend,
as for `DELIVERY_STALE_AFTER`) and hands on again what it may have taken from the broker.

A live process whose heartbeat cannot be written (the database away) must not look dead while
it talks to a provider, so it starts no provider call unless its last heartbeat began less than
a quarter of `dead_after` ago (`check_fresh`): a call it starts then ends, at the slowest
channel timeout, well before anyone may take its message (`dead_after` is at least twice that
timeout). What is left is a process frozen in mid-call (SIGSTOP, a paused VM) for longer than
`dead_after`, as it was for `DELIVERY_STALE_AFTER`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Interval, Select, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from intake_service.channels import TransientError
from intake_service.db import Database, utcnow
from intake_service.models import WorkerHeartbeat

log = logging.getLogger(__name__)

# Rows of processes long dead, once buried, are deleted when a process starts.
FORGET_AFTER = dt.timedelta(days=1)


def interval(dead_after: float) -> float:
    """Seconds between heartbeats: ten to a `dead_after`, so a few late ones are no death."""
    return max(0.2, dead_after / 10)


@dataclass
class _Beat:
    id: str
    pid: int
    # time.monotonic() when the last heartbeat that went through began: a lower bound on
    # what the database recorded for it.
    last_ok: float
    stop: threading.Event = field(default_factory=threading.Event)


_current: _Beat | None = None
_lock = threading.Lock()


def database_now(session_or_db: Session | Database) -> Any:
    """'Now' as the database sees it on PostgreSQL (one clock for every host), else ours."""
    bind = session_or_db.engine if isinstance(session_or_db, Database) else session_or_db.get_bind()
    if bind.dialect.name == "postgresql":
        return func.now()
    return utcnow()


def start(db: Database, dead_after: float) -> str:
    """Register this process as a worker and keep its heartbeat; its id. Idempotent per process
    (a forked child registers anew)."""
    global _current
    with _lock:
        if _current is not None and _current.pid == os.getpid():
            return _current.id
        began = time.monotonic()
        beat = _Beat(uuid.uuid4().hex, os.getpid(), began)
        try:
            with db.transaction() as session:
                now = database_now(session)
                session.execute(
                    delete(WorkerHeartbeat).where(
                        WorkerHeartbeat.buried_at.is_not(None),
                        WorkerHeartbeat.seen_at < utcnow() - FORGET_AFTER,
                    )
                )
                session.add(
                    WorkerHeartbeat(
                        id=beat.id,
                        hostname=socket.gethostname()[:255],
                        pid=beat.pid,
                        started_at=utcnow(),
                        seen_at=now,
                    )
                )
        except Exception as error:  # the database is away: the thread writes the row later
            log.warning("worker heartbeat not written at start (%s)", type(error).__name__)
            beat.last_ok = float("-inf")  # no provider call until a heartbeat went through
        _current = beat
    thread = threading.Thread(
        target=_keep_beating, args=(db, beat, interval(dead_after)), daemon=True, name="heartbeat"
    )
    thread.start()
    log.info("worker process %s (pid %d) keeps a heartbeat", beat.id, beat.pid)
    return beat.id


def stop(db: Database) -> None:
    """On a clean shutdown: stop beating and remove this process's row (it holds nothing)."""
    global _current
    with _lock:
        beat = _current
        if beat is None or beat.pid != os.getpid():
            return
        _current = None
    beat.stop.set()
    try:
        with db.transaction() as session:
            session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == beat.id))
    except Exception as error:  # the row goes stale and is buried like a dead one's
        log.warning("heartbeat row not removed (%s)", type(error).__name__)


def _keep_beating(db: Database, beat: _Beat, every: float) -> None:
    failing = False
    while not beat.stop.wait(every):
        began = time.monotonic()
        try:
            with db.transaction() as session:
                now = database_now(session)
                # Also un-bury: a process once taken for dead (a long database outage) that
                # beats again is alive, and its real death must be noticed later.
                beaten = session.execute(
                    update(WorkerHeartbeat)
                    .where(WorkerHeartbeat.id == beat.id)
                    .values(seen_at=now, buried_at=None)
                ).rowcount  # type: ignore[attr-defined]
                if not beaten:
                    session.add(
                        WorkerHeartbeat(
                            id=beat.id,
                            hostname=socket.gethostname()[:255],
                            pid=beat.pid,
                            seen_at=now,
                        )
                    )
        except Exception as error:  # the database is away: try again next beat
            if not failing:
                log.warning("worker heartbeat not written (%s)", type(error).__name__)
            failing = True
            continue
        beat.last_ok = began
        failing = False


def holder() -> str | None:
    """This process's worker id, if it keeps a heartbeat (a worker), else None."""
    beat = _current
    return beat.id if beat is not None and beat.pid == os.getpid() else None


def check_fresh(dead_after: float) -> None:
    """Raise TransientError if this process keeps a heartbeat that has not gone through lately:
    it may look dead to the others, so it must not start talking to a provider."""
    beat = _current
    if beat is None or beat.pid != os.getpid():
        return
    if time.monotonic() - beat.last_ok > dead_after / 4:
        raise TransientError("worker heartbeat late", "not sending while it may look dead")


def _cutoff(session_or_db: Session | Database, dead_after: float) -> Any:
    return database_now(session_or_db) - dt.timedelta(seconds=dead_after)


def dead_holders(dialect: str) -> Select[Any]:
    """The ids of worker processes whose heartbeat stopped: a subquery for held_by, built once
    with the cutoff a parameter (see dead_params): on PostgreSQL "dead_after" before the
    database's now (one clock for every host), elsewhere "dead_before"."""
    if dialect == "postgresql":
        cutoff: Any = func.now() - bindparam("dead_after", type_=Interval)
    else:
        cutoff = bindparam("dead_before", type_=WorkerHeartbeat.seen_at.type)
    return select(WorkerHeartbeat.id).where(WorkerHeartbeat.seen_at < cutoff)


def dead_params(dialect: str, dead_after: float) -> dict[str, Any]:
    """The values of dead_holders' parameters."""
    if dialect == "postgresql":
        return {"dead_after": dt.timedelta(seconds=dead_after)}
    return {"dead_before": utcnow() - dt.timedelta(seconds=dead_after)}


def bury_dead(session: Session, dead_after: float) -> dt.datetime | None:
    """Mark the newly dead processes noticed, and return the last heartbeat of them (None if
    none died since the last look). Not committed."""
    seen = session.scalars(
        update(WorkerHeartbeat)
        .where(
            WorkerHeartbeat.seen_at < _cutoff(session, dead_after),
            WorkerHeartbeat.buried_at.is_(None),
        )
        .values(buried_at=utcnow())
        .returning(WorkerHeartbeat.seen_at)
    ).all()
    if not seen:
        return None
    log.warning("%d worker processes stopped beating; handing on what they held", len(seen))
    return max(seen)
