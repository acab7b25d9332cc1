"""SMTP server down for a while; Twilio answering 500, then 429 with Retry-After, for a while.

The SMTP server stops listening (connection refused) and starts again on the same port; the
Twilio stand-in answers every request (sends and look-ups alike) with an error until told to
stop. Messages wait in the ledger and go out once, when the providers recover.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tests.support.processes import wait_until

from .harness import Client, LeadSpec, Stack, Timer, assert_clean, drain, in_background, stream

pytestmark = pytest.mark.faults

LEADS = 40
STREAM_SECONDS = 8.0


def test_smtp_down_and_twilio_failing_then_recovering(make_stack: Callable[..., Stack]) -> None:
    timer = Timer()
    stack = make_stack("provider_outages", workers=2)
    timer.mark("startup")

    client = Client(stack.base_url)
    specs = [LeadSpec("providers", n) for n in range(LEADS)]
    submitter = in_background(lambda: stream(client, specs, STREAM_SECONDS))
    # The outages begin once texts flow: they come after the first leads' processing and team
    # alerts, later on a busy machine, and an outage over before the first text proves nothing.
    wait_until(lambda: stack.twilio.messages, 30, "a first text at the stand-in")
    stack.smtp.stop()
    stack.twilio.outage(500)
    time.sleep(3.0)
    # Each kind of refusal lasts until a text met it: texts wait behind team alerts and lead
    # processing (broker.LANE_PRIORITY), for seconds on CI's busy machine.
    wait_until(lambda: stack.twilio.outage_answers, 30, "a text refused with 500")
    refused = stack.twilio.outage_answers
    stack.twilio.outage(429, retry_after=1)
    time.sleep(2.0)
    wait_until(lambda: stack.twilio.outage_answers > refused, 30, "a text refused with 429")
    stack.smtp.start()  # SMTP was refused for 5 s or more
    time.sleep(1.5)
    stack.twilio.outage(None)  # Twilio failed for 4.5 s or more
    submitter.join(timeout=60)
    timer.mark("stream_and_outages")

    report = drain("provider_outages", stack, client.posted, started=timer.start, timeout=90)
    timer.mark("drain")
    engine = sa.create_engine(stack.database_url)
    with engine.connect() as conn:
        retried: dict[str, int] = dict(
            conn.execute(
                sa.text("SELECT channel, count(*) FROM messages WHERE attempts > 1 GROUP BY 1")
            ).all()
        )
    engine.dispose()
    print(f"  twilio error answers={stack.twilio.outage_answers} retried messages={retried}")
    print(timer)
    assert all(p.status == 201 for p in client.posted)
    # The faults were felt: otherwise this test proves nothing.
    assert stack.twilio.outage_answers > 0 and retried.get("email", 0) > 0, retried
    assert_clean(report, stack)
