"""The shared text rate holds against many senders at once: never more than N in any second."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid

import pytest

from intake_service.channels import pacing
from intake_service.channels.pacing import LocalPacer, Pacer, RedisPacer

RATE = 5
RUN_SECONDS = 2.5
# Wall-clock time just before the gate's call, and when the send was answered.
Grant = tuple[float, float]


def _hammer(pacer: Pacer, until: float, grants: list[Grant]) -> None:
    while time.time() < until:
        before = time.time()
        _, token = pacer.acquire()
        if token:
            # The answer: from here the send counts; what the receiver saw came before it.
            grants.append((before, time.time()))
            pacer.answered(token)


def _process(url: str, key: str, until: float, queue: multiprocessing.Queue[list[Grant]]) -> None:
    pacer = RedisPacer(RATE, url, key)
    grants: list[Grant] = []
    threads = [threading.Thread(target=_hammer, args=(pacer, until, grants)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(grants)


def surely_within_a_second(grants: list[Grant], rate: int) -> list[Grant] | None:
    """N+1 grants that certainly happened within one second, whatever the callers' own delays:
    the latest return minus the earliest call under 1 s. None when there are none."""
    ordered = sorted(grants)
    for start, (first_call, _) in enumerate(ordered):
        later = sorted(ordered[start:], key=lambda grant: grant[1])[: rate + 1]
        if len(later) == rate + 1 and later[-1][1] - first_call < 1.0:
            return later
    return None


def test_redis_pace_never_grants_more_than_the_rate_in_any_second(redis_url: str) -> None:
    key = f"test-pace:{uuid.uuid4().hex}"
    until = time.time() + RUN_SECONDS
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[Grant]] = context.Queue()
    workers = [
        context.Process(target=_process, args=(redis_url, key, until, queue)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    grants = [grant for _ in workers for grant in queue.get(timeout=30)]
    for worker in workers:
        worker.join(timeout=10)
    assert surely_within_a_second(grants, RATE) is None
    # Twelve callers hammering: the gate still lets the rate through, not a trickle.
    assert len(grants) >= RATE * 2


def test_the_check_above_catches_a_gate_that_lets_too_many_through() -> None:
    # A burst of RATE + 1 sends within a few milliseconds is what the check must report.
    now = time.time()
    burst = [(now + i / 1000, now + i / 1000 + 0.001) for i in range(RATE + 1)]
    assert surely_within_a_second(burst, RATE) is not None


def test_local_pace_holds_for_threads_too() -> None:
    pacer = LocalPacer(RATE)
    grants: list[Grant] = []
    until = time.time() + 1.5
    threads = [threading.Thread(target=_hammer, args=(pacer, until, grants)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert surely_within_a_second(grants, RATE) is None
    assert len(grants) >= RATE


@pytest.mark.parametrize("make", [lambda url: RedisPacer(RATE, url, f"t:{uuid.uuid4().hex}"),
                                  lambda url: LocalPacer(RATE)])  # fmt: skip
def test_reserved_slots_form_one_queue_a_little_wider_than_the_rate(make, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    pacer = make(redis_url)
    began = time.monotonic()
    slots = [time.monotonic() - began + pacer.reserve() for _ in range(RATE * 4)]
    step = pacing.spacing(RATE)
    # Measured on this side of a socket, each slot is off by that call's delay: check the span.
    assert slots == sorted(slots)
    assert slots[-1] - slots[0] == pytest.approx(step * (len(slots) - 1), abs=0.06)
    # Wider than the rate, by the margins only: a backlog still drains at over 95% of it.
    assert 1 / RATE < step <= 1 / (0.95 * RATE)
