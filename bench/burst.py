"""Burst: N submissions as fast as the intake takes them, then every message out, once.

Starts the production shape (bench/stack.py), posts N submissions flat out from concurrent
clients (the submission rate limit off), and waits until every lead's team email, patient email
and first text has arrived at the local SMTP server and the Twilio stand-in. Prints errors,
anything missing or doubled, the drain time, and the peak RSS of each gunicorn worker and each
Celery process afterwards (issue 15: <= 150 MB each).

With --sms-rate R the service paces texts at R a second per sender (SMS_RATE_PER_SECOND): it
prints the most texts the stand-in received in any 1 s window (never above R), the drain rate of
the text backlog as a ratio of R (target >= 0.95), and the team email's p50/p99 while texts
were waiting (it must not queue behind them).

    python bench/burst.py [--leads 10000] [--sms-rate 10] [--threads 32]
"""

from __future__ import annotations

import argparse
import bisect
import collections
import os
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import TEAM_EMAIL, marker_index, percentile, phone_of, post_paced, production_stack

MARKER = re.compile(r"Lead([a-j]{5})", re.IGNORECASE)
PATIENT = re.compile(r"lead(\d{5})@example\.com")
RSS_TARGET_MB = 150.0
DRAIN_TARGET = 0.95
# Every text to these numbers is from the bench: the pumping guards would pause them.
BURST_ENV = {
    "SMS_DAILY_CAP_PER_PREFIX": "1000000",
    "SMS_DAILY_CAP_PER_NUMBER": "1000000",
    "SMS_SURGE_MIN_PER_HOUR": "1000000",
    "MALLOC_ARENA_MAX": os.environ.get("BENCH_MALLOC_ARENA_MAX", "2"),
}


class Arrivals:
    """When each lead's messages arrived, by kind; a second arrival of a kind is a double."""

    def __init__(self) -> None:
        self.first: dict[str, dict[int, float]] = collections.defaultdict(dict)
        self.doubled: collections.Counter[str] = collections.Counter()
        self.text_times: list[float] = []
        self._lock = threading.Lock()

    def note(self, kind: str, index: int, at: float) -> None:
        with self._lock:
            if index in self.first[kind]:
                self.doubled[kind] += 1
            else:
                self.first[kind][index] = at

    def count(self, kind: str) -> int:
        with self._lock:
            return len(self.first[kind])


def watch_mail(stack, arrivals: Arrivals, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
    seen = 0
    while not stop.is_set():
        now = time.monotonic()
        received = stack.smtp.messages
        for mail in received[seen:]:
            if TEAM_EMAIL in mail.rcpt_tos:
                # The subject names the lead by its reference only; the body names the person.
                found = MARKER.search(mail.message.as_string())
                if found:
                    arrivals.note("team", marker_index(found.group(1)), now)
                continue
            for rcpt in mail.rcpt_tos:
                patient = PATIENT.search(rcpt)
                if patient:
                    arrivals.note("email", int(patient.group(1)), now)
        seen = len(received)
        time.sleep(0.02)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any half-open window [t, t + window)."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0
    )


def group_rss(pgid: int) -> list[tuple[int, str, float, float]]:
    """(pid, command, peak RSS MB, RSS MB) of every process in a process group, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rpartition(")")[2].split()[2]) != pgid:
                continue
            status = dict(
                line.split(":", 1) for line in (entry / "status").read_text().splitlines()
            )
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        peak = int(status.get("VmHWM", "0 kB").split()[0]) / 1024
        rss = int(status.get("VmRSS", "0 kB").split()[0]) / 1024
        found.append((int(entry.name), cmd, peak, rss))
    return found


def memory(stack) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Print the peak RSS (VmHWM) of each gunicorn and Celery process; the largest per tier."""
    largest = {"web": 0.0, "worker": 0.0}
    for tier, process in (("web", stack.web), ("worker", stack.worker)):
        leader = process.popen.pid
        for pid, cmd, peak, rss in sorted(group_rss(leader), key=lambda row: -row[2]):
            if tier == "web":
                label = "gunicorn master" if pid == leader else "gunicorn worker"
            else:
                label = "celery main" if pid == leader else "celery child"
                if "beat" in cmd and pid != leader:
                    label = "celery child"
            if label != "gunicorn master":  # the arbiter serves nothing
                largest[tier] = max(largest[tier], peak)
            verdict = "" if peak <= RSS_TARGET_MB else "  OVER"
            print(f"  {label:<16} pid {pid:>7} peak RSS {peak:6.1f} MB (now {rss:6.1f} MB; "
                  f"target <= {RSS_TARGET_MB:.0f} MB){verdict}")  # fmt: skip
    return largest


def run(leads: int, sms_rate: int, threads: int, timeout: float) -> dict[str, float]:
    extra = dict(BURST_ENV)
    if sms_rate:
        extra["SMS_RATE_PER_SECOND"] = str(sms_rate)
    with production_stack(extra_env=extra) as stack:
        arrivals = Arrivals()
        phones = {phone_of(index): index for index in range(leads)}

        def on_text(resource: dict[str, object]) -> None:
            at = time.monotonic()
            index = phones.get(str(resource.get("to", "")))
            arrivals.text_times.append(at)
            if index is not None:
                arrivals.note("text", index, at)

        stack.twilio.on_create = on_text
        stop = threading.Event()
        watcher = threading.Thread(target=watch_mail, args=(stack, arrivals, stop))
        watcher.start()
        posted: dict[int, float] = {}

        def on_posted(index: int, began: float) -> None:
            posted[index] = began

        began = time.monotonic()
        latencies, errors = post_paced(stack.base, leads, None, threads, on_posted=on_posted)
        posting = time.monotonic() - began
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
            arrivals.count(kind) < len(posted) for kind in ("team", "email", "text")
        ):
            time.sleep(0.1)
        drained = time.monotonic() - began
        time.sleep(2)  # anything sent twice arrives now, or not at all
        stop.set()
        watcher.join()
        print(f"burst: {leads} submissions from {threads} threads in {posting:.1f} s "
              f"({leads / posting:.0f}/s), {errors} errors"
              f"{'' if errors == 0 else '  MISSED (zero errors)'}; "
              f"texts {f'paced at {sms_rate}/s' if sms_rate else 'not paced'}")  # fmt: skip
        missing = {kind: len(posted) - arrivals.count(kind) for kind in ("team", "email", "text")}
        doubled = sum(arrivals.doubled.values())
        print(f"  delivered: team email {arrivals.count('team')}, patient email "
              f"{arrivals.count('email')}, first text {arrivals.count('text')} of {len(posted)}; "
              f"missing {sum(missing.values())} {missing}; sent twice {doubled}")  # fmt: skip
        print(f"  drain: every message out {drained:.1f} s after the first post"
              f"{'' if sum(missing.values()) == 0 else ' (timed out)'}; intake answer p50 "
              f"{percentile(latencies, 0.5) * 1000:.0f} ms, p99 "
              f"{percentile(latencies, 0.99) * 1000:.0f} ms")  # fmt: skip
        team = [
            arrivals.first["team"][i] - posted[i] for i in posted if i in arrivals.first["team"]
        ]
        figures: dict[str, float] = {
            "errors": errors, "missing": sum(missing.values()), "doubled": doubled,
            "drain_s": drained, "team_p50": percentile(team, 0.5),
            "team_p99": percentile(team, 0.99),
        }  # fmt: skip
        if sms_rate:
            figures.update(_paced_figures(arrivals, posted, sms_rate))
        else:
            print(f"  team email p50 {figures['team_p50'] * 1000:.0f} ms, p99 "
                  f"{figures['team_p99'] * 1000:.0f} ms from its 201")  # fmt: skip
        largest = memory(stack)
        figures["web_rss_mb"], figures["worker_rss_mb"] = largest["web"], largest["worker"]
    return figures


def waiting_drain(
    planned: list[float], sent: list[float], rate: int, step: float = 0.1
) -> tuple[float, float]:
    """(texts sent per second while at least a second's worth of texts waited, seconds of such
    waiting). A lead's text is waiting from its team email (sent when the lead was processed,
    so its text was planned by then) until the stand-in has it."""
    planned, sent = sorted(planned), sorted(sent)
    if not sent:
        return float("nan"), 0.0
    waiting_time, count = 0.0, 0
    t = sent[0]
    while t < sent[-1]:
        backlog = bisect.bisect_right(planned, t) - bisect.bisect_right(sent, t)
        if backlog >= rate:
            waiting_time += step
            count += bisect.bisect_right(sent, t + step) - bisect.bisect_right(sent, t)
        t += step
    return (count / waiting_time if waiting_time else float("nan")), waiting_time


def _paced_figures(arrivals: Arrivals, posted: dict[int, float], rate: int) -> dict[str, float]:
    texts = sorted(arrivals.text_times)
    most = max_in_window(texts)
    span = texts[-1] - texts[0] if len(texts) > 1 else float("nan")
    overall = (len(texts) - 1) / span if span else float("nan")
    team, text = arrivals.first["team"], arrivals.first["text"]
    leads = [i for i in posted if i in team and i in text]
    achieved, waited = waiting_drain([team[i] for i in leads], [text[i] for i in leads], rate)
    ratio = achieved / rate
    backlog_end = texts[-1] if texts else 0.0
    during = [team[i] - posted[i] for i in posted if i in team and team[i] < backlog_end]
    p50, p99 = percentile(during, 0.5), percentile(during, 0.99)
    missed = "" if ratio >= DRAIN_TARGET else " MISSED"
    # The closest any rate + 1 texts came: 1 s or more keeps every window at the rate.
    tightest = min((b - a for a, b in zip(texts, texts[rate:], strict=False)), default=0.0)
    print(f"  texts: most in any 1 s window at the stand-in {most} (limit {rate})"
          f"{'' if most <= rate else '  EXCEEDED'}, closest {rate + 1} texts {tightest:.3f} s "
          f"apart; {len(texts)} texts over {span:.0f} s ({overall:.2f}/s)")  # fmt: skip
    print(f"  drain while >= {rate} texts waited ({waited:.0f} s of it): {achieved:.2f}/s = "
          f"{ratio:.3f}x the rate (target >= {DRAIN_TARGET}){missed}")  # fmt: skip
    team_done = max(team.values(), default=0.0)
    print(f"  team email while texts waited ({len(during)} leads): p50 {p50 * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms from its 201; last team email "
          f"{backlog_end - team_done:.0f} s before the last text")  # fmt: skip
    return {"max_per_second": most, "drain_ratio": ratio, "team_p50_backlog": p50,
            "team_p99_backlog": p99}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--sms-rate", type=int, default=0, help="SMS_RATE_PER_SECOND (0: off)")
    parser.add_argument("--threads", type=int, default=32, help="concurrent posting clients")
    parser.add_argument("--timeout", type=float, default=0.0,
                        help="seconds to wait for the drain")  # fmt: skip
    args = parser.parse_args()
    timeout = args.timeout or max(300.0, args.leads / 5, args.leads / (args.sms_rate or 1e9) * 2)
    print(f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    run(args.leads, args.sms_rate, args.threads, timeout)


if __name__ == "__main__":
    main()
