"""Stop PostgreSQL for 3 s and start it again while workers run and submissions stream in.

While it is down the intake answers 503 with Retry-After and stores nothing; the client comes
back after Retry-After (capped at 1 s, as an impatient browser would) with the same
Idempotency-Key. Every lead that was finally accepted is delivered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from .conftest import FaultServers
from .harness import Client, LeadSpec, Stack, Timer, assert_clean, drain, in_background, stream

pytestmark = pytest.mark.faults

LEADS = 40
STREAM_SECONDS = 12.0
DOWN_SECONDS = 3.0


def test_postgres_restarted_while_workers_run(
    make_stack: Callable[..., Stack], fault_servers: FaultServers
) -> None:
    timer = Timer()
    stack = make_stack("postgres_restart", workers=2)
    stack.twilio.delay = 0.5  # texts in flight when the database goes away
    timer.mark("startup")

    client = Client(stack.base_url, retry_cap=1.0, give_up_after=60)
    specs = [LeadSpec("pg", n) for n in range(LEADS)]
    submitter = in_background(lambda: stream(client, specs, STREAM_SECONDS))
    time.sleep(2.0)
    # Stop while a worker waits for Twilio: it cannot record the text it just sent.
    in_flight = stack.worker_sending_sms(timeout=5.0) is not None
    fault_servers.postgres.stop(mode="fast")  # ends every session, as a restart does
    time.sleep(DOWN_SECONDS)
    fault_servers.postgres.start()
    submitter.join(timeout=120)
    timer.mark("stream_and_restart")

    report = drain("postgres_restart", stack, client.posted, started=timer.start, timeout=90)
    timer.mark("drain")
    answers_503 = sum(p.answers_503 for p in client.posted)
    errors = sum(p.errors for p in client.posted)
    print(f"  503 answers={answers_503} transport errors={errors} text in flight={in_flight}")
    print(timer)
    assert all(p.status == 201 for p in client.posted)
    assert answers_503 > 0, "no submission met the outage"
    assert_clean(report, stack)
