"""The deployed worker killed three times while 120 leads come in: what it held goes out within
30 s of its restart, and no text goes out twice.

The worker runs as docker-compose.yml starts it (prefork, two processes, Celery's own mingle,
gossip and heartbeats), beside a separate beat, gunicorn, the SMTP server and the Twilio
stand-in, with the production timings (DISPATCH_INTERVAL 5 s, DELIVERY_STALE_AFTER 180 s,
DELIVERY_REQUEUE_AFTER 120 s, channel timeouts 10 s): nothing here shortens the fallbacks, so
what a dead worker held can only come back fast through its heartbeat (liveness.py). Each kill
is kill -9 of the worker's whole process group, as `docker kill` does, and it is started again
at once, as `restart: unless-stopped` does.

`RECOVERY_BASELINE=1` runs the same flow with DELIVERY_WORKER_DEAD_AFTER out of reach (the
behaviour before heartbeats) and only prints the figure, for docs/performance.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial

import pytest
import sqlalchemy as sa

from tests.support.processes import wait_until

from .harness import (
    COMPOSE_WORKER,
    Client,
    LeadSpec,
    Report,
    Stack,
    assert_clean,
    attempt_outcomes,
    check,
    in_background,
    stream,
)

pytestmark = pytest.mark.faults

LEADS = 120
STREAM_SECONDS = 50.0
KILLS = 3
FIRST_KILL_AFTER = 10.0  # seconds into the stream
KILL_EVERY = 12.0
# Issue 15's target: what a dead worker held is out within 30 s of a healthy worker. The figure
# is printed against it (a timing, for docs/performance.md); what the test asserts is that the
# heartbeat takeover did it, well before either fallback (DELIVERY_REQUEUE_AFTER 120 s,
# DELIVERY_STALE_AFTER 180 s) could have: without the takeover it takes 178-199 s.
TARGET = 30.0
BEFORE_ANY_FALLBACK = 90.0
BASELINE = os.environ.get("RECOVERY_BASELINE") == "1"

# docker-compose.yml's defaults for everything the fault suite's FAULT_KNOBS shortens.
PRODUCTION_TIMINGS = {
    "DISPATCH_INTERVAL": "5",
    "OUTBOX_REPUBLISH_AFTER": "30",
    "DELIVERY_MAX_ATTEMPTS": "8",
    "DELIVERY_BACKOFF_BASE": "10",
    "DELIVERY_BACKOFF_CAP": "1800",
    "DELIVERY_STALE_AFTER": "180",
    "DELIVERY_REQUEUE_AFTER": "120",
    "SMTP_TIMEOUT": "10",
    "TWILIO_TIMEOUT": "10",
}


def held(engine: sa.Engine) -> dict[str, int]:
    """Messages by status that are not final yet, and leads whose event no worker finished."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT status, count(*) FROM messages "
                "WHERE status IN ('planned', 'queued', 'sending') GROUP BY status"
            )
        ).all()
        events = conn.execute(
            sa.text("SELECT count(*) FROM outbox_events WHERE processed_at IS NULL")
        ).scalar_one()
    return {**{str(status): int(n) for status, n in rows}, "events": int(events)}


def held_ids(engine: sa.Engine) -> tuple[set[int], set[str]]:
    """Right after a kill: the messages in flight (queued or sending: the dead worker may hold
    them) and the leads whose event no worker finished."""
    with engine.connect() as conn:
        messages = conn.execute(
            sa.text("SELECT id FROM messages WHERE status IN ('queued', 'sending')")
        ).scalars()
        leads = conn.execute(
            sa.text("SELECT lead_id FROM outbox_events WHERE processed_at IS NULL")
        ).scalars()
        return set(messages), {str(lead) for lead in leads}


def all_out(engine: sa.Engine, messages: set[int], leads: set[str]) -> bool:
    """Every one of `messages`, and every message due now of `leads`, was sent."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, CAST(lead_id AS text) AS lead, status, due_at <= now() AS due "
                "FROM messages"
            )
        ).all()
    planned_leads = {row.lead for row in rows}
    if not leads <= planned_leads:
        return False  # a held lead not even processed yet
    return all(
        row.status in ("sent", "delivered")
        for row in rows
        if row.id in messages or (row.lead in leads and row.due)
    )


def test_worker_killed_three_times_mid_flow_is_taken_over_by_heartbeat(
    make_stack: Callable[..., Stack],
) -> None:
    env = dict(PRODUCTION_TIMINGS)
    if BASELINE:
        env["DELIVERY_WORKER_DEAD_AFTER"] = "1000000"
    stack = make_stack("recovery", workers=1, env=env, worker_options=COMPOSE_WORKER)
    stack.twilio.delay = 0.3  # a text in flight for a while: kills land mid-send
    stack.smtp.delay = 0.05
    engine = sa.create_engine(stack.database_url, pool_pre_ping=True)
    client = Client(stack.base_url)
    specs = [LeadSpec("recovery", n) for n in range(LEADS)]
    started = time.monotonic()
    submitter = in_background(lambda: stream(client, specs, STREAM_SECONDS))

    at_kills: list[dict[str, int]] = []
    # Per kill: what the dead worker may have held, when a worker was back, when it was all out.
    kills: list[tuple[set[int], set[str], float]] = []
    held_out: dict[int, float] = {}
    ready_at = started

    def watch_held() -> None:
        while len(held_out) < KILLS and time.monotonic() < started + 600:
            for k, (messages, leads, _) in enumerate(list(kills)):
                if k not in held_out and all_out(engine, messages, leads):
                    held_out[k] = time.monotonic()
            time.sleep(0.25)

    watcher = None
    for k in range(KILLS):
        time.sleep(max(0.0, started + FIRST_KILL_AFTER + k * KILL_EVERY - time.monotonic()))
        stack.kill_worker(0)
        at_kills.append(held(engine))
        messages, leads = held_ids(engine)
        stack.start_worker(0)
        wait_until(partial(stack.ready, 0), 60, "the restarted worker", stack.workers[0])
        ready_at = time.monotonic()
        kills.append((messages, leads, ready_at))
        watcher = watcher or in_background(watch_held)
    submitter.join(timeout=180)
    posted_by = time.monotonic()

    # Poll until every lead's every message arrived (or give up: the fallbacks are minutes).
    report: Report | None = None
    deadline = ready_at + (400 if BASELINE else 120)
    while time.monotonic() < deadline:
        try:
            report = check("worker_recovery", stack, client.posted, engine)
        except sa.exc.OperationalError:
            report = None
        if report is not None and report.drained:
            break
        time.sleep(0.25)
    out_at = time.monotonic()
    if watcher is not None:
        watcher.join(timeout=30)
    time.sleep(2)  # a late duplicate still counts
    report = check("worker_recovery", stack, client.posted, engine)
    report.outcomes = attempt_outcomes(engine)
    with engine.connect() as conn:
        # Why tries were transient, and when each channel's last message went out.
        transient = conn.execute(
            sa.text(
                "SELECT detail, count(*) FROM delivery_attempts WHERE outcome = 'transient' "
                "GROUP BY detail"
            )
        ).all()
    engine.dispose()

    recovery = out_at - ready_at
    held_latency = [
        held_out[k] - ready if k in held_out else float("inf")
        for k, (_, _, ready) in enumerate(kills)
    ]
    print(
        f"\n{report.line()}\n{report.detail()}\n"
        f"  held at each kill: {at_kills}\n"
        f"  transient tries: {[tuple(row) for row in transient]}\n"
        f"  what each dead worker held all out after its restart: "
        f"{', '.join(f'{t:.1f}s' for t in held_latency)}\n"
        f"  last restart ready {ready_at - started:.1f}s into the run, last post at "
        f"{posted_by - started:.1f}s; every message out {recovery:.1f}s after the last restart"
        f"{' (baseline: no heartbeat takeover)' if BASELINE else ''}"
    )
    assert stack.kills == KILLS
    assert all(p.status == 201 for p in client.posted)
    assert_clean(report, stack)
    if not BASELINE:
        print(
            f"  slowest held set out {max(held_latency):.1f}s after its restart: "
            f"{max(held_latency) / TARGET:.2f}x the {TARGET:.0f} s target"
        )
        assert max(held_latency) < BEFORE_ANY_FALLBACK, (
            f"held messages out {held_latency} after restarts: a fallback, not the takeover"
        )
        # Leads were still coming in after the last restart: the backlog drains too.
        assert recovery < BEFORE_ANY_FALLBACK, (
            f"everything out {recovery:.1f}s after the last restart"
        )
        assert report.outcomes.get("abandoned", 0) >= 1, "no kill landed mid-send"
