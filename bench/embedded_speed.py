"""Speed to lead on the embedded default, email only, at steady posting rates (issue 16).

`intake-service run` is the embedded default: SQLite, the embedded broker, one worker with beat.

Each row starts a fresh `intake-service run` on a throwaway instance directory, posts leads
with an email address and no phone from 8 threads at a steady rate, and reads from the service's
own SQLite database (read-only) when each lead's team email and patient email were sent (the
dev mailbox is the provider here). Beside each row, from the same run and the same server:

- **floor**: the same paced loop against `GET /healthz` (no database, no broker), so the intake
  answer is printed as a ratio to what the machine gives any request right now;
- **backlog**: leads whose patient email is not out yet, sampled at each quarter of the posting
  window and at its end: a backlog that grows from one quarter to the next is a missed row.

With --production the same loop also runs against the production shape (bench/stack.py:
gunicorn, Celery, PostgreSQL, Redis) for the 5/s row, when PostgreSQL and Redis are up.

    python bench/embedded_speed.py            # rows 1/s x60, 3/s x90, 5/s x150, 10/s x1200
    python bench/embedded_speed.py --rows 1:20,5:50,10:300
    python bench/embedded_speed.py --rows 10:600 --py-spy 20   # profile web and worker under load
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speed_to_lead import headline
from stack import percentile

from tests.support.processes import BIN, Process, wait_for_http, wait_until
from tests.support.services import free_port

DEFAULT_ROWS = "1:60,3:90,5:150,10:1200"
# Issue 16's targets: team email at 5 leads/s, and at 1 lead/s.
TARGETS = {5.0: (0.5, 2.0), 1.0: (0.3, None)}
POST_THREADS = 8
DRAIN_TIMEOUT = 120.0
KEEP = os.environ.get("BENCH_KEEP_PROFILES")  # a directory to copy py-spy's raw files into


def email_only_body(index: int, run_tag: str) -> dict[str, object]:
    """A contact form with an email address only: team email and patient email, nothing else."""
    marker = "".join(chr(ord("a") + int(d)) for d in f"{index:05d}")
    return {
        "form": "contact",
        "contact": {"first_name": "Bench", "last_name": f"Lead{marker}",
                    "email": f"lead{index:05d}.{run_tag}@example.com"},
        "treatment_interest": "tms",
        "consent": {"email": True},
    }  # fmt: skip


@dataclass
class Embedded:
    base: str
    database: Path
    service: Process
    instance: Path

    def worker_pid(self) -> int | None:
        pid = self.service.popen.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        pids = children.read_text().split() if children.exists() else []
        return int(pids[0]) if pids else None


def embedded_env(instance: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "APP_ENV": "development",
        "INSTANCE_PATH": str(instance),
        "QUIET_HOURS_ENABLED": "false",
        "RATELIMIT_ENABLED": "false",  # one bench client posts every lead
        "SUBMISSIONS_PER_CONTACT_PER_HOUR": "1000",
    }
    # Nothing configured: the embedded default, whatever this shell exports.
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "SMTP_URL", "TWILIO_ACCOUNT_SID"):
        env[name] = ""
    return {**env, **(extra or {})}


@contextmanager
def embedded_service(extra_env: dict[str, str] | None = None) -> Iterator[Embedded]:
    with tempfile.TemporaryDirectory(prefix="embedded-bench-") as tmp:
        port = free_port()
        instance = Path(tmp) / "instance"
        argv = [str(BIN / "intake-service"), "run", "--host", "127.0.0.1", "--port", str(port)]
        service = Process("run", argv, embedded_env(instance, extra_env), Path(tmp))
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/readyz", 90, service)
            wait_until(
                lambda: re.search(r"celery@\S+ ready", service.output()), 90, "worker", service
            )
            yield Embedded(base, instance / "intake.sqlite", service, instance)
        finally:
            service.stop()


@dataclass
class Posted:
    began: dict[int, float] = field(default_factory=dict)  # index -> wall clock
    lead_of: dict[str, int] = field(default_factory=dict)  # lead id (hex) -> index
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def post_paced(url: str, count: int, rate: float, body_of, method: str = "POST") -> Posted:  # type: ignore[no-untyped-def]
    """`count` requests at `rate` per second from POST_THREADS threads (one session each)."""
    local = threading.local()
    lock = threading.Lock()
    posted = Posted()
    started = time.monotonic()

    def one(index: int) -> None:
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        wall, began = time.time(), time.monotonic()
        try:
            if method == "POST":
                answer = session.post(url, json=body_of(index), timeout=30)
            else:
                answer = session.get(url, timeout=30)
            ok = answer.status_code == (201 if method == "POST" else 200)
            lead = answer.json().get("lead_id") if ok and method == "POST" else None
        except (requests.RequestException, ValueError):
            ok, lead = False, None
        took = time.monotonic() - began
        with lock:
            posted.latencies.append(took)
            if not ok:
                posted.errors += 1
            elif lead:
                posted.began[index] = wall
                posted.lead_of[lead.replace("-", "")] = index

    with concurrent.futures.ThreadPoolExecutor(POST_THREADS) as pool:
        list(pool.map(one, range(count)))
    return posted


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on one process (not its children: the worker and beat are profiled apart)."""
    return subprocess.Popen(
        [str(BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds),
         "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14-17 of stat, 11-14 after the command name.
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [pid, *(grand for kid in kids for grand in process_tree(kid))]


def _wall(value: str) -> float:
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).timestamp()


def sent_first_emails(database: Path) -> dict[tuple[str, str], float]:
    """(lead id hex, audience) -> when its first email was recorded sent (wall clock)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        rows = connection.execute(
            "SELECT lead_id, audience, sent_at FROM messages WHERE step_key = 'first'"
            " AND channel = 'email' AND sent_at IS NOT NULL"
        ).fetchall()
    finally:
        connection.close()
    return {(str(lead).replace("-", ""), audience): _wall(sent) for lead, audience, sent in rows}


def doubled(database: Path) -> int:
    """Dev mailbox entries beyond one per (recipient, subject) for patient mail."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        (extra,) = connection.execute(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM dev_mailbox"
            " WHERE channel = 'email' AND recipient LIKE 'lead%' GROUP BY recipient)"
        ).fetchone()
    finally:
        connection.close()
    return int(extra)


@dataclass
class Row:
    rate: float
    leads: int
    errors: int
    team: list[float]
    patient: list[float]
    missing_team: int
    missing_patient: int
    doubled: int
    backlog: list[int]
    drain_seconds: float
    intake_p50: float
    intake_p99: float
    floor_p50: float
    floor_p99: float
    cpu_per_lead: float
    cpu_split: list[float]
    cpu_share: float
    profile: list[str] = field(default_factory=list)


def run_row(rate: float, leads: int, py_spy: int = 0) -> Row:
    with embedded_service() as service:
        tag = f"{int(time.time())}"
        # The floor: the same paced loop, same threads, same server, no database or broker.
        floor_count = max(10, min(int(rate * 10), 100))
        floor = post_paced(f"{service.base}/healthz", floor_count, rate, None, method="GET")
        share = cpu_share()

        tree = process_tree(service.service.popen.pid)  # run (web), the worker, beat
        spies = []
        if py_spy:
            out = service.instance.parent
            for name, pid in zip(("web", "worker", "beat"), tree, strict=False):
                spies.append((name, profile(pid, py_spy, out / f"{name}.spy")))

        cpu_before = [cpu_seconds(pid) for pid in tree]
        backlog: list[int] = []
        result: dict[str, Posted] = {}
        poster = threading.Thread(
            target=lambda: result.setdefault(
                "p",
                post_paced(
                    f"{service.base}/api/v1/submissions",
                    leads,
                    rate,
                    lambda i: email_only_body(i, tag),
                ),
            )
        )
        window = leads / rate
        began = time.monotonic()
        poster.start()
        for quarter in (0.25, 0.5, 0.75):
            time.sleep(max(0.0, began + quarter * window - time.monotonic()))
            backlog.append(_backlog(service.database, began, rate, quarter * window))
        poster.join()
        posted = result["p"]
        backlog.append(len(posted.lead_of) - _patients_out(service.database, posted))
        ended = time.monotonic()
        deadline = ended + DRAIN_TIMEOUT
        while time.monotonic() < deadline:
            if _patients_out(service.database, posted) >= len(posted.lead_of) and _teams_out(
                service.database, posted
            ) >= len(posted.lead_of):
                break
            time.sleep(0.2)
        drain = time.monotonic() - ended
        cpu_split = [
            cpu_seconds(pid) - before for pid, before in zip(tree, cpu_before, strict=True)
        ]
        cpu = sum(cpu_split)
        share = (share + cpu_share()) / 2  # before the posts and after the drain
        sent = sent_first_emails(service.database)
        lines: list[str] = []
        for name, spy in spies:
            spy.wait(timeout=py_spy + 60)
            raw = service.instance.parent / f"{name}.spy"
            if raw.exists():
                if KEEP:
                    shutil.copy(raw, Path(KEEP) / f"{name}-{rate:g}.spy")
                lines.append(f"{name}:")
                lines.extend(f"  {line}" for line in headline_all(raw))
        extra = doubled(service.database)

    team, patient = [], []
    for lead, index in posted.lead_of.items():
        if (lead, "team") in sent:
            team.append(sent[(lead, "team")] - posted.began[index])
        if (lead, "patient") in sent:
            patient.append(sent[(lead, "patient")] - posted.began[index])
    return Row(
        rate, leads, posted.errors, team, patient,
        len(posted.lead_of) - len(team), len(posted.lead_of) - len(patient), extra, backlog, drain,
        percentile(posted.latencies, 0.5), percentile(posted.latencies, 0.99),
        percentile(floor.latencies, 0.5), percentile(floor.latencies, 0.99), cpu / max(leads, 1),
        [part / max(leads, 1) for part in cpu_split], share, lines,
    )  # fmt: skip


def headline_all(raw: Path, top: int = 14) -> list[str]:
    """py-spy's inclusive shares, every frame (not only the service's): the broker is kombu's."""
    import collections

    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = set()
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            frames.add(f"{name} ({where.split(':')[0].split('site-packages/')[-1]}")
        for frame in frames:
            inclusive[frame] += samples
    skip = ("<module>", "_bootstrap", "run (threading", "worker (concurrent", "start (")
    wanted = [(f, n) for f, n in inclusive.most_common() if not any(s in f for s in skip)]
    return [f"{100 * n / max(total, 1):5.1f}%  {frame}" for frame, n in wanted[:top]] + [
        f"({total} samples; old-style headline: {'; '.join(headline(raw, 3))})"
    ]


def _patients_out(database: Path, posted: Posted) -> int:
    sent = sent_first_emails(database)
    return sum(1 for lead in posted.lead_of if (lead, "patient") in sent)


def _teams_out(database: Path, posted: Posted) -> int:
    sent = sent_first_emails(database)
    return sum(1 for lead in posted.lead_of if (lead, "team") in sent)


def _backlog(database: Path, began: float, rate: float, elapsed: float) -> int:
    """Leads posted by now (by the pacing) whose patient email is not out yet."""
    expected = int(elapsed * rate)
    out = sum(1 for (_, audience) in sent_first_emails(database) if audience == "patient")
    return max(0, expected - out)


def print_row(row: Row) -> None:
    out = len(row.team), len(row.patient)
    print(f"\n{row.rate:g} leads/s x {row.leads} (email only), load {os.getloadavg()[0]:.1f}:")
    print(f"  answered {row.leads - row.errors} of {row.leads}; team email out {out[0]}, "
          f"patient email out {out[1]}; doubled {row.doubled}")  # fmt: skip
    for label, values in (("team email", row.team), ("patient email", row.patient)):
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (0.5, 0.95, 0.99))
        print(f"  201 -> {label:<13} p50 {p50:7.0f} ms  p95 {p95:7.0f} ms  p99 {p99:7.0f} ms")
    target = TARGETS.get(row.rate)
    if target:
        p50 = percentile(row.team, 0.5)
        verdict = f"  team email p50 / target {target[0] * 1000:.0f} ms = {p50 / target[0]:.2f}x"
        if target[1]:
            p99 = percentile(row.team, 0.99)
            verdict += f"; p99 / target {target[1]:.0f} s = {p99 / target[1]:.2f}x"
        print(verdict)
    print(f"  backlog (patient emails not out) at 1/4, 1/2, 3/4, end of posting: "
          f"{row.backlog}; drained {row.drain_seconds:.1f} s after the last post")  # fmt: skip
    intake, floor = row.intake_p50 * 1000, row.floor_p50 * 1000
    print(f"  intake answer p50 {intake:.0f} ms p99 {row.intake_p99 * 1000:.0f} ms beside "
          f"GET /healthz (floor) p50 {floor:.0f} ms p99 {row.floor_p99 * 1000:.0f} ms: "
          f"{intake / max(floor, 1e-3):.1f}x")  # fmt: skip
    web, worker, *_ = [*row.cpu_split, 0.0, 0.0]
    print(f"  CPU per lead {row.cpu_per_lead * 1000:.0f} ms (web {web * 1000:.0f}, worker "
          f"{worker * 1000:.0f}); the worker needs {row.rate * worker:.2f} of a core at this "
          f"rate, one busy Python process got {row.cpu_share:.2f} of one in this run: "
          f"{row.cpu_share / max(row.rate * worker, 1e-6):.2f}x headroom")  # fmt: skip
    for line in row.profile:
        print(f"  {line}")


def cpu_share(seconds: float = 2.0) -> float:
    """How much of a core one CPU-bound Python process gets right now (1.0 on an idle machine):
    the floor under the worker, which is one such process (threads under one GIL)."""
    spin = (
        "import time\n"
        f"end = time.monotonic() + {seconds}\n"
        "while time.monotonic() < end: pass\n"
        f"print(time.process_time() / {seconds})"
    )
    answer = subprocess.run([sys.executable, "-c", spin], capture_output=True, text=True,
                            check=True)  # fmt: skip
    return float(answer.stdout)


def production_row(rate: float, leads: int) -> str:
    """The same loop against the production shape (gunicorn, Celery, PostgreSQL, Redis)."""
    from stack import TEAM_EMAIL, production_stack

    with production_stack() as stack:
        tag = f"{int(time.time())}"
        arrived: dict[str, float] = {}
        stop = threading.Event()

        def watch() -> None:
            seen = 0
            while not stop.is_set():
                now = time.time()
                for mail in stack.smtp.messages[seen:]:
                    if TEAM_EMAIL in mail.rcpt_tos:
                        found = re.search(r"Lead([a-j]{5})", str(mail.message.get_body(("plain",))))
                        if found:
                            arrived.setdefault(found.group(1).lower(), now)
                    seen += 1
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        posted = post_paced(f"{stack.base}/api/v1/submissions", leads, rate,
                            lambda i: email_only_body(i, tag))  # fmt: skip
        deadline = time.monotonic() + 60
        while len(arrived) < len(posted.began) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        watcher.join()
    markers = {"".join(chr(ord("a") + int(d)) for d in f"{i:05d}"): i for i in posted.began}
    team = [arrived[m] - posted.began[i] for m, i in markers.items() if m in arrived]
    return (f"  production shape, same loop, {rate:g}/s x {leads}: team email p50 "
            f"{percentile(team, 0.5) * 1000:.0f} ms p99 {percentile(team, 0.99) * 1000:.0f} ms "
            f"({len(team)} of {len(posted.began)})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=DEFAULT_ROWS, help="rate:leads,... (default %(default)s)")
    parser.add_argument("--py-spy", type=int, default=0, metavar="SECONDS",
                        help="profile web and worker for this long in each row")  # fmt: skip
    parser.add_argument("--production", action="store_true",
                        help="also run the 5/s row against the production shape")  # fmt: skip
    args = parser.parse_args()
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    rows = []
    for spec in args.rows.split(","):
        rate, leads = spec.split(":")
        row = run_row(float(rate), int(leads), args.py_spy)
        print_row(row)
        rows.append(row)
        if args.production and float(rate) == 5.0:
            print(production_row(float(rate), int(leads)))
    print("\nsummary (latencies from the 201; headroom = CPU one process got / worker CPU needed)")
    print("  rate  leads  team p50  team p99  patient p50  patient p95  out team/patient"
          "  backlog end  intake/floor  CPU/lead  headroom")  # fmt: skip
    for row in rows:
        worker = row.cpu_split[1] if len(row.cpu_split) > 1 else 0.0
        cells = [
            f"{row.rate:4g}", f"{row.leads:5d}", f"{percentile(row.team, 0.5):6.2f} s",
            f"{percentile(row.team, 0.99):6.2f} s", f"{percentile(row.patient, 0.5):9.2f} s",
            f"{percentile(row.patient, 0.95):9.2f} s",
            f"{len(row.team):7d}/{len(row.patient):<7d}", f"{row.backlog[-1]:10d}",
            f"{row.intake_p50 / max(row.floor_p50, 1e-6):11.1f}x",
            f"{row.cpu_per_lead * 1000:5.0f} ms",
            f"{row.cpu_share / max(row.rate * worker, 1e-6):7.2f}x",
        ]  # fmt: skip
        print("  " + "  ".join(cells))


if __name__ == "__main__":
    main()
