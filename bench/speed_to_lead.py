"""Speed to lead: from a patient's 201 to the team email and the patient's first text.

Starts the production shape (bench/stack.py: gunicorn, a Celery worker with beat, Redis, a
throwaway PostgreSQL database, a local SMTP server and the Twilio stand-in), posts submissions
concurrently at a steady rate, and prints p50/p99 of both latencies beside the targets of
issue 15 (p50 <= 250 ms, p99 <= 1 s), with ratios. With --py-spy it also profiles the worker
for that many seconds and prints the functions taking the most of its time.

    python bench/speed_to_lead.py [--leads 300] [--rate 50] [--pool prefork --concurrency 2]
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import TEAM_EMAIL, marker_index, percentile, phone_of, post_paced, production_stack

P50_TARGET = 0.25
P99_TARGET = 1.0
MARKER = re.compile(r"Lead([a-j]{5})", re.IGNORECASE)


def watch(stack, posted_count: int, stop: threading.Event, mails: dict, texts: dict) -> None:  # type: ignore[no-untyped-def]
    """Record when each lead's team email and first text arrived (by lead index)."""
    phones = {phone_of(index): index for index in range(posted_count)}
    seen_mail = seen_text = 0
    while not stop.is_set():
        now = time.monotonic()
        received = stack.smtp.messages
        for mail in received[seen_mail:]:
            # Only the team's copy: the patient's "Thanks" email carries no marker.
            if TEAM_EMAIL not in mail.rcpt_tos:
                continue
            # The subject names the lead by its reference only (it shows on lock screens):
            # the name, and so the marker, is in the body.
            body = mail.message.get_body(("plain",))
            found = MARKER.search(body.get_content() if body is not None else "")
            if found:
                mails.setdefault(marker_index(found.group(1)), now)
        seen_mail = len(received)
        sent = stack.twilio.messages
        for text in sent[seen_text:]:
            index = phones.get(text.get("to", ""))
            if index is not None:
                texts.setdefault(index, now)
        seen_text = len(sent)
        time.sleep(0.02)


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid),
         "--subprocesses", "--duration", str(seconds), "--format", "raw", "--output", str(out),
         "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def headline(raw: Path, top: int = 10) -> list[str]:
    """The functions present in the most samples (inclusive), from py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = {frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0] + ")"
                  for frame in stack.split(";")}  # fmt: skip
        for frame in frames:
            inclusive[frame] += samples
    wanted = [
        (frame, n)
        for frame, n in inclusive.most_common()
        if any(k in frame for k in ("intake_service", "ssl", "smtplib", "twilio", "sqlalchemy"))
    ]
    return [f"{100 * n / max(total, 1):5.1f}%  {frame}" for frame, n in wanted[:top]]


def run(leads: int, rate: float, pool: str, concurrency: int, py_spy: int) -> dict[str, float]:
    with production_stack(pool=pool, concurrency=concurrency) as stack:
        mails: dict[int, float] = {}
        texts: dict[int, float] = {}
        posted: dict[int, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(stack, leads, stop, mails, texts))
        watcher.start()
        assert stack.worker is not None
        spy = profile(stack.worker.popen.pid, py_spy, stack.log_dir / "spy.txt") if py_spy else None

        def on_posted(index: int, began: float) -> None:
            posted[index] = began

        # The clock starts at the request; its own latency is part of speed to lead.
        latencies, errors = post_paced(stack.base, leads, rate, threads=32, on_posted=on_posted)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
            len(mails) < len(posted) or len(texts) < len(posted)
        ):
            time.sleep(0.1)
        stop.set()
        watcher.join()
        lines: list[str] = []
        if spy is not None:
            spy.wait(timeout=py_spy + 30)
            lines = (
                headline(stack.log_dir / "spy.txt") if (stack.log_dir / "spy.txt").exists() else []
            )
    to_mail = [mails[i] - posted[i] for i in posted if i in mails]
    to_text = [texts[i] - posted[i] for i in posted if i in texts]
    print(f"speed to lead: {leads} leads at {rate:g}/s, posted from 32 threads "
          f"(worker: {pool} x{concurrency}); {errors} errors")  # fmt: skip
    print(f"  missing after 120 s: {len(posted) - len(to_mail)} team emails, "
          f"{len(posted) - len(to_text)} texts")  # fmt: skip
    figures: dict[str, float] = {"errors": errors}
    for label, values in (("team email", to_mail), ("patient text", to_text)):
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(f"  to {label:<12} p50 {p50 * 1000:7.0f} ms ({p50 / P50_TARGET:5.2f}x target "
              f"{P50_TARGET * 1000:.0f} ms)  p99 {p99 * 1000:7.0f} ms "
              f"({p99 / P99_TARGET:5.2f}x target {P99_TARGET:.0f} s)")  # fmt: skip
        key = label.split()[-1]
        figures[f"{key}_p50"], figures[f"{key}_p99"] = p50, p99
    print(f"  intake answer p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms")  # fmt: skip
    if lines:
        print(f"  worker profile ({py_spy} s, py-spy, inclusive share of samples):")
        for line in lines:
            print(f"    {line}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="submissions per second")
    parser.add_argument("--pool", default="prefork", help="Celery pool (prefork, threads)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--py-spy", type=int, default=0, metavar="SECONDS",
                        help="profile the worker for this long (needs py-spy)")  # fmt: skip
    args = parser.parse_args()
    run(args.leads, args.rate, args.pool, args.concurrency, args.py_spy)


if __name__ == "__main__":
    main()
