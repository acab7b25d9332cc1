"""The whole benchmark suite, short by default: every figure beside its floor or target.

    python bench/run_all.py            # about eight minutes on a quiet 2-core machine
    python bench/run_all.py --long     # longer: 50/s for 60 s, a burst of 10,000 leads, ...
    python bench/run_all.py --embedded # also issue 16's table on `intake-service run`, short rows

Each bench starts its own production-shaped stack (bench/stack.py) and prints its own lines;
this prints them all again at the end, as one table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import burst
import embedded_speed
import intake_throughput
import pumping_checks
import speed_to_lead
import worker_throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="the full durations of issue 15")
    parser.add_argument("--embedded", action="store_true",
                        help="also issue 16's table (bench/embedded_speed.py)")  # fmt: skip
    args = parser.parse_args()
    seconds, leads, drain = (30.0, 3000, 500) if args.long else (8.0, 250, 200)

    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    intake = intake_throughput.run(seconds, 16)
    speed = speed_to_lead.run(leads, 50.0, "prefork", 2, 0)
    worker = worker_throughput.rounds(3, drain, 4 * drain, "prefork", 2)
    flood = burst.run(10_000 if args.long else 500, 0, 32, 1800.0 if args.long else 300.0)
    paced = burst.run(1500 if args.long else 200, 10, 32, 600.0 if args.long else 300.0)
    pumping = pumping_checks.run(60_000 if args.long else 20_000, 300)

    print("\nsummary (ratios: service / floor measured in the same run, or figure / target)")
    rows = [
        ("intake req/s vs floor", intake["ratio"], ">= 0.5x"),
        ("intake p99 at half rate / 25 ms", intake["half_rate_p99"] / 0.025, "<= 1x"),
        ("team email p50 / 250 ms", speed["email_p50"] / 0.25, "<= 1x"),
        ("team email p99 / 1 s", speed["email_p99"] / 1.0, "<= 1x"),
        ("patient text p50 / 250 ms", speed["text_p50"] / 0.25, "<= 1x"),
        ("patient text p99 / 1 s", speed["text_p99"] / 1.0, "<= 1x"),
        ("worker messages/s vs no-op floor", worker["ratio"], ">= 0.4x"),
        (
            "burst lost, doubled or refused",
            flood["errors"] + flood["missing"] + flood["doubled"],
            "0",
        ),
        ("pumping caps, full / empty table", pumping["caps (refusal)"], "~1x"),
        ("pumping surge, full / empty table", pumping["surge (watch)"], "~1x"),
        ("paced texts in any 1 s / rate 10", paced["max_per_second"] / 10, "<= 1x"),
        ("paced drain rate / rate 10", paced["drain_ratio"], ">= 0.95x"),
        ("team email p99 behind texts / 1 s", paced["team_p99_backlog"] / 1.0, "<= 1x"),
        (
            "peak RSS web worker / 150 MB",
            max(flood["web_rss_mb"], paced["web_rss_mb"]) / 150,
            "<= 1x",
        ),
        (
            "peak RSS celery process / 150 MB",
            max(flood["worker_rss_mb"], paced["worker_rss_mb"]) / 150,
            "<= 1x",
        ),
    ]
    if args.embedded:
        for rate, leads in ((1.0, 30), (5.0, 100), (10.0, 600 if args.long else 300)):
            row = embedded_speed.run_row(rate, leads)
            embedded_speed.print_row(row)
            target = embedded_speed.TARGETS.get(rate)
            if target:
                p50 = embedded_speed.percentile(row.team, 0.5)
                rows.append((f"embedded {rate:g}/s team email p50 / {target[0] * 1000:.0f} ms",
                             p50 / target[0], "<= 1x"))  # fmt: skip
            rows.append((f"embedded {rate:g}/s backlog at end / leads",
                         row.backlog[-1] / leads, "~0"))  # fmt: skip
    for label, value, target in rows:
        print(f"  {label:<36} {value:8.2f}x   target {target}")


if __name__ == "__main__":
    main()
