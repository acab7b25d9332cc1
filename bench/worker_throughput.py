"""Worker throughput: messages one worker host delivers per second, beside a floor task.

Posts N submissions while no worker runs, then starts the worker (as production runs it:
prefork, 2 processes) and times how long it takes to process every lead and deliver every
message to the local SMTP server and Twilio stand-in. The floor, drained by the same worker in
the same run, is the cheapest task the service has: `deliver` of an id that does not exist
(one UPDATE that claims nothing). Target (issue 15): at least 0.4x the floor's rate.

    python bench/worker_throughput.py [--leads 150] [--pool prefork --concurrency 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_to_lead import headline, profile
from stack import post_paced, production_stack

TARGET = 0.4
MISSING_ID = 2_000_000_000


def delivered(stack) -> int:  # type: ignore[no-untyped-def]
    return len(stack.smtp.messages) + len(stack.twilio.messages)


def run(
    leads: int, floor_tasks: int, pool: str, concurrency: int, py_spy: int = 0
) -> dict[str, float]:
    # The worker starts paused: nothing consumes until the leads are in.
    with production_stack(pool=pool, concurrency=concurrency, start_worker=False) as stack:
        _, errors = post_paced(stack.base, leads, None, threads=8)
        worker = stack.start_worker()
        out = stack.log_dir / "spy.txt"
        spy = profile(worker.popen.pid, py_spy, out) if py_spy else None
        began = time.monotonic()
        expected = 3 * (leads - errors)  # team email, patient email, patient text
        deadline = began + 300
        while delivered(stack) < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        took = time.monotonic() - began
        messages = delivered(stack)
        rate = messages / took
        if spy is not None:
            spy.wait(timeout=py_spy + 30)
            for line in headline(out, 25) if out.exists() else []:
                print(f"    {line}")

        celery = stack.celery()
        began = time.monotonic()
        for _ in range(floor_tasks):
            celery.send_task("intake_service.tasks.deliver", args=[MISSING_ID],
                             queue=stack.queue)  # fmt: skip
        stack.wait_drained(stack.queue)
        floor_rate = floor_tasks / (time.monotonic() - began)
    ratio = rate / floor_rate
    print(
        f"worker throughput ({pool} x{concurrency}): {messages} messages from {leads} leads "
        f"in {took:.1f} s = {rate:.1f}/s; floor (no-op deliver) {floor_rate:.1f}/s; "
        f"ratio {ratio:.2f}x (target {TARGET}x){'' if ratio >= TARGET else ' MISSED'}"
    )
    return {"messages_per_s": rate, "floor_per_s": floor_rate, "ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=150)
    parser.add_argument("--floor-tasks", type=int, default=600)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--py-spy", type=int, default=0, metavar="SECONDS")
    args = parser.parse_args()
    run(args.leads, args.floor_tasks, args.pool, args.concurrency, args.py_spy)


if __name__ == "__main__":
    main()
