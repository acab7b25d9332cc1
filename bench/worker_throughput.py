"""Worker throughput: messages one worker host delivers per second, beside a floor task.

Posts N submissions while no worker runs, then starts the worker (as production runs it:
prefork, 2 processes) and times, from the first message to arrive to the last, the processing
of every lead and the delivery of every message to the local SMTP server and Twilio stand-in
(the worker's start-up is not in the figure: on a quiet machine it drains a small batch before
it even answers a ping). The floor, drained by the same worker in the same run, is the
cheapest task the service has: `deliver` of an id that does not exist (one UPDATE that claims
nothing), queued while the worker does not consume, then timed from the moment it does.
Target (issue 15): at least 0.4x the floor's rate.

Both rates move by a third from one run to the next on a shared 2-core machine, so `--rounds`
repeats the whole run on fresh stacks and prints the median ratio beside each round's.

    python bench/worker_throughput.py [--leads 150] [--rounds 3] [--pool prefork --concurrency 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_to_lead import headline, profile
from stack import post_paced, production_stack

TARGET = 0.4
MISSING_ID = 2_000_000_000


def delivered(stack) -> int:  # type: ignore[no-untyped-def]
    return len(stack.smtp.messages) + len(stack.twilio.messages)


def watch(stack, expected: int, arrivals: list[float]) -> None:  # type: ignore[no-untyped-def]
    """Note when the first and the last expected message arrived (polled every 5 ms)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        count = delivered(stack)
        if count and not arrivals:
            arrivals.append(time.monotonic())
        if count >= expected:
            arrivals.append(time.monotonic())
            return
        time.sleep(0.005)


def run(
    leads: int, floor_tasks: int, pool: str, concurrency: int, py_spy: int = 0
) -> dict[str, float]:
    # The worker starts paused: nothing consumes until the leads are in.
    with production_stack(pool=pool, concurrency=concurrency, start_worker=False) as stack:
        _, errors = post_paced(stack.base, leads, None, threads=8)
        expected = 3 * (leads - errors)  # team email, patient email, patient text
        arrivals: list[float] = []
        watcher = threading.Thread(target=watch, args=(stack, expected, arrivals), daemon=True)
        watcher.start()
        worker = stack.start_worker()
        out = stack.log_dir / "spy.txt"
        spy = profile(worker.popen.pid, py_spy, out) if py_spy else None
        watcher.join(timeout=300)
        messages = delivered(stack)
        took = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
        rate = (messages - 1) / took
        if spy is not None:
            spy.wait(timeout=py_spy + 30)
            for line in headline(out, 25) if out.exists() else []:
                print(f"    {line}")

        celery = stack.celery()
        celery.control.cancel_consumer(stack.queue, reply=True, timeout=5)
        for _ in range(floor_tasks):
            celery.send_task("intake_service.tasks.deliver", args=[MISSING_ID],
                             queue=stack.queue)  # fmt: skip
        began = time.monotonic()
        celery.control.add_consumer(stack.queue, reply=True, timeout=5)
        stack.wait_drained(stack.queue)
        floor_rate = floor_tasks / (time.monotonic() - began)
    ratio = rate / floor_rate
    print(
        f"worker throughput ({pool} x{concurrency}): {messages} messages from {leads} leads "
        f"in {took:.2f} s = {rate:.1f}/s; floor (no-op deliver) {floor_rate:.1f}/s; "
        f"ratio {ratio:.2f}x (target {TARGET}x){'' if ratio >= TARGET else ' MISSED'}"
    )
    return {"messages_per_s": rate, "floor_per_s": floor_rate, "ratio": ratio}


def rounds(
    count: int, leads: int, floor_tasks: int, pool: str, concurrency: int
) -> dict[str, float]:
    """`run` `count` times on fresh stacks; the round with the median ratio, and every ratio."""
    results = [run(leads, floor_tasks, pool, concurrency) for _ in range(count)]
    ratios = [result["ratio"] for result in results]
    middle = sorted(results, key=lambda result: result["ratio"])[(count - 1) // 2]
    median = statistics.median(ratios)
    print(
        f"worker throughput, {count} rounds: median ratio {median:.2f}x (target {TARGET}x)"
        f"{'' if median >= TARGET else ' MISSED'}; rounds "
        + ", ".join(f"{ratio:.2f}x" for ratio in ratios)
    )
    return {**middle, "ratio": median}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=150)
    parser.add_argument("--floor-tasks", type=int, default=600)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--py-spy", type=int, default=0, metavar="SECONDS")
    parser.add_argument("--rounds", type=int, default=1, help="runs on fresh stacks; the median")
    args = parser.parse_args()
    if args.rounds > 1:
        rounds(args.rounds, args.leads, args.floor_tasks, args.pool, args.concurrency)
    else:
        run(args.leads, args.floor_tasks, args.pool, args.concurrency, args.py_spy)


if __name__ == "__main__":
    main()
