"""Worker throughput: messages one worker host delivers per second, beside a floor task.

Posts N submissions while no worker runs, then starts the worker (as production runs it:
prefork, 2 processes) and times, from the first message to arrive to the last, the processing
of every lead and the delivery of every message to the local SMTP server and Twilio stand-in
(the worker's start-up is not in the figure: on a quiet machine it drains a small batch before
it even answers a ping). The floor, drained by the same worker in the same run, is the
cheapest task the service has: `deliver` of an id that does not exist (one UPDATE that claims
nothing), queued while the worker does not consume, then timed from the moment it does.
Target (issue 15): at least 0.4x the floor's rate.

It also prints the worker's CPU per lead (parent and pool processes, from /proc, between the
first message and the last): unlike the rates, that hardly moves with the machine's load.

Both rates move by a third from one run to the next on a shared 2-core machine, so `--rounds`
repeats the whole run on fresh stacks and prints the median ratio beside each round's.

    python bench/worker_throughput.py [--leads 150] [--rounds 3] [--pool prefork --concurrency 2]
"""

from __future__ import annotations

import argparse
import os
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


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user and system) of `pid` and of its children, by process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    spent = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(entry) == pid or int(fields[1]) == pid:
            spent[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    return spent


def delivered(stack) -> int:  # type: ignore[no-untyped-def]
    return len(stack.smtp.messages) + len(stack.twilio.messages)


def watch(  # type: ignore[no-untyped-def]
    stack, expected: int, arrivals: list[float], cpu: list[dict[int, float]] | None = None
) -> None:
    """Note when the first and the last expected message arrived (polled every 5 ms), and the
    worker's CPU by process at both moments into `cpu`."""

    def arrived() -> None:
        arrivals.append(time.monotonic())
        if cpu is not None:
            cpu.append(tree_cpu(stack.worker.popen.pid))

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        count = delivered(stack)
        if count and not arrivals:
            arrived()
        if count >= expected:
            arrived()
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
        cpu: list[dict[int, float]] = []
        watcher = threading.Thread(target=watch, args=(stack, expected, arrivals, cpu), daemon=True)
        # Watching before the worker starts: it may drain a small batch before it answers the
        # ping start_worker waits for. stack.worker is set before any message can arrive.
        watcher.start()
        worker = stack.start_worker()
        out = stack.log_dir / "spy.txt"
        spy = profile(worker.popen.pid, py_spy, out) if py_spy else None
        watcher.join(timeout=300)
        messages = delivered(stack)
        took = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
        rate = (messages - 1) / took
        parent_ms, pool_ms = cpu_per_lead(worker.popen.pid, cpu, leads - errors)
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
        f"ratio {ratio:.2f}x (target {TARGET}x){'' if ratio >= TARGET else ' MISSED'}; "
        f"worker CPU per lead: parent {parent_ms:.1f} ms, pool processes and beat {pool_ms:.1f} ms"
    )
    return {
        "messages_per_s": rate,
        "floor_per_s": floor_rate,
        "ratio": ratio,
        "parent_cpu_ms": parent_ms,
        "pool_cpu_ms": pool_ms,
    }


def cpu_per_lead(pid: int, cpu: list[dict[int, float]], leads: int) -> tuple[float, float]:
    """The parent's and the pool processes' CPU per lead between the two snapshots, in ms."""
    if len(cpu) < 2 or not leads:
        return float("nan"), float("nan")
    first, last = cpu
    spent = {process: seconds - first.get(process, 0.0) for process, seconds in last.items()}
    parent = spent.pop(pid, 0.0)
    return 1000 * parent / leads, 1000 * sum(spent.values()) / leads


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
        + "; worker CPU per lead, medians: parent "
        + f"{statistics.median(result['parent_cpu_ms'] for result in results):.1f} ms, pool "
        + f"{statistics.median(result['pool_cpu_ms'] for result in results):.1f} ms"
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
