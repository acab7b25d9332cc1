"""Stop and restart the private Redis during a burst of submissions.

Redis runs without persistence, so everything it held (lead ids waiting to be processed, message
ids waiting for a worker, unacknowledged tasks) is gone when it comes back. The intake must
still answer 201 to every submission, and the outbox sweep and the scheduler must get every
lead's messages out afterwards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import FaultServers
from .harness import Client, LeadSpec, Stack, Timer, assert_clean, drain

pytestmark = pytest.mark.faults

LEADS = 500
STOP_AFTER = 100  # accepted submissions before Redis is stopped
DOWN_AT_LEAST = 4.0  # seconds
DOWN_AT_MOST = 12.0
ACCEPTED_WHILE_DOWN = 60  # keep it down until this many were accepted (or DOWN_AT_MOST)
RECEIVED = re.compile(r"tasks\.process_lead\[[0-9a-f-]+\] received")


def test_redis_stopped_and_restarted_during_a_burst(
    make_stack: Callable[..., Stack], fault_servers: FaultServers
) -> None:
    timer = Timer()
    stack = make_stack("redis_outage", workers=2)
    timer.mark("startup")

    client = Client(stack.base_url)
    specs = [LeadSpec("redis", n) for n in range(LEADS)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(client.post, spec) for spec in specs]
        while len(client.posted) < STOP_AFTER:
            time.sleep(0.02)
        fault_servers.redis.stop()
        down_at, before = time.monotonic(), len(client.posted)
        while True:
            down_for = time.monotonic() - down_at
            taken = len(client.posted) - before
            if down_for >= DOWN_AT_MOST or (
                down_for >= DOWN_AT_LEAST and taken >= ACCEPTED_WHILE_DOWN
            ):
                break
            time.sleep(0.05)
        fault_servers.redis.start()
        while_down = len(client.posted) - before
        for future in futures:
            future.result()
    timer.mark("burst")

    statuses = {p.status for p in client.posted}
    report = drain("redis_outage", stack, client.posted, started=timer.start, timeout=150)
    timer.mark("drain")
    print(f"  redis down {down_for:.1f}s, {while_down} submissions answered meanwhile")
    # Each copy the outbox sweep publishes beyond what Redis lost is work the patients' lanes
    # wait behind (docs/performance.md, "the outbox sweep under a backlog"): shown, not judged.
    received = sum(
        len(RECEIVED.findall(log.read_text(errors="replace")))
        for log in stack.workdir.glob("worker*.log")
    )
    print(f"  process_lead tasks received: {received} for {LEADS} leads")
    print(timer)
    assert statuses == {201}, f"answers other than 201: {statuses}"
    assert while_down > 0, "no submission was answered while Redis was down"
    assert_clean(report, stack)
