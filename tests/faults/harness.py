"""Fault-injection harness: private servers, the whole service as real processes, and a checker.

Everything here is started by the fault tests and stopped by them: a `redis-server` on a free
port and a throwaway PostgreSQL cluster in a temporary folder (never the machine's shared ones
on 6379 and 5432; tests/support/services.py starts them, as it does for the rest of the suite
when the machine's own are missing), the SMTP server and the Twilio stand-in in this process,
and gunicorn, Celery workers and Celery beat as real processes. `check` then compares what the
database holds with what the SMTP server and the Twilio stand-in received.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import sqlalchemy as sa
from werkzeug.wrappers import Request, Response

from tests.conftest import TEST_FERNET_KEY
from tests.support.processes import BIN, Process, wait_for_http, wait_until
from tests.support.services import free_port
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin, twilio_error

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

TEAM_EMAILS = ("team@sunrise.example", "oncall@sunrise.example")

# Short timings so a fault heals within seconds. DELIVERY_STALE_AFTER must outlast the channel
# timeouts, or a send still in progress would look abandoned. DELIVERY_REQUEUE_AFTER must
# outlast the wait of a message in its lane during a scenario's burst: patient email is read
# only when no team alert or text waits (broker.LANE_PRIORITY), a minute or more here, and at
# 4 s every waiting message was handed on again every 4 s, nine deliver tasks per message
# sent, which on CI's busy machine held the patient emails past the drain's deadline.
FAULT_KNOBS = {
    "DISPATCH_INTERVAL": "0.5",
    "OUTBOX_REPUBLISH_AFTER": "3",
    "DELIVERY_MAX_ATTEMPTS": "30",
    "DELIVERY_BACKOFF_BASE": "0.5",
    "DELIVERY_BACKOFF_CAP": "2",
    "DELIVERY_STALE_AFTER": "6",
    "DELIVERY_REQUEUE_AFTER": "20",
    "SMTP_TIMEOUT": "2",
    "TWILIO_TIMEOUT": "2",
}

# The worker's options as docker-compose.yml starts it (prefork, one process per core; mingle,
# gossip and Celery's heartbeats left on), for scenarios about the deployed shape.
COMPOSE_WORKER = ("--loglevel=INFO", "--pool=prefork", "--concurrency=2")
# The scenarios' usual worker: four threads, back in about a second after a kill.
THREADS_WORKER = (
    "--pool", "threads", "--concurrency", "4", "--loglevel", "INFO",
    # No mingle/gossip/heartbeat: a restarted worker is back in about a second, not three.
    "--without-mingle", "--without-gossip", "--without-heartbeat",
)  # fmt: skip

NOT_FINAL = ("planned", "queued", "sending")
SENT_STATES = ("sent", "delivered")
_MESSAGE_ID = re.compile(r"<intake-message-(\d+)@")

# Every scenario's summary line, repeated at the end of the run (conftest.py).
SUMMARIES: list[str] = []


# --- the Twilio stand-in, with outages and a view of sends in progress ---------------------


class FaultyTwilio(TwilioStandin):
    """The Twilio stand-in, able to answer every request with 500 or 429 for as long as asked,
    and to say which client connections are waiting for an answer right now."""

    def __init__(self) -> None:
        super().__init__()
        self._outage: tuple[int, dict[str, str]] | None = None
        self._flight_lock = threading.Lock()
        self._in_flight: dict[int, float] = {}  # client port -> when its request arrived
        self.outage_answers = 0

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def outage(self, status: int | None, retry_after: float | None = None) -> None:
        """Answer every request with `status` (500, 429...) until called with None."""
        if status is None:
            self._outage = None
            return
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        self._outage = (status, headers)

    def in_flight_ports(self) -> list[int]:
        """Client ports of requests the stand-in holds (during its delay) right now."""
        with self._flight_lock:
            return list(self._in_flight)

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        port = int(environ.get("REMOTE_PORT") or 0)
        with self._flight_lock:
            self._in_flight[port] = time.monotonic()
        try:
            # The parent stores a created message before its delay: a client killed during the
            # delay leaves a text Twilio has and the worker never recorded.
            return super()._wsgi(environ, start_response)
        finally:
            with self._flight_lock:
                self._in_flight.pop(port, None)

    def _answer(self, request: Request) -> Response:
        outage = self._outage
        if outage is None:
            return super()._answer(request)
        status, headers = outage
        self.outage_answers += 1
        body = twilio_error(20429 if status == 429 else 20000 + status, status)
        return Response(json.dumps(body), status, headers, content_type="application/json")


def pid_of_client(client_port: int, server_port: int, pids: Iterable[int]) -> int | None:
    """Which of `pids` owns the loopback TCP connection from `client_port` to `server_port`."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (
                int(local.rsplit(":", 1)[1], 16) == client_port
                and int(remote.rsplit(":", 1)[1], 16) == server_port
            ):
                inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
        except OSError:
            continue
    return None


# --- the service as real processes ---------------------------------------------------------


class Stack:
    """gunicorn (2 workers), N Celery workers and a separate beat, with SMTP and Twilio stand-ins.

    Beat is its own process so that killing a worker never stops the scheduler.
    """

    def __init__(
        self,
        name: str,
        workdir: Path,
        broker_url: str,
        database_url: str,
        *,
        workers: int = 2,
        env: dict[str, str] | None = None,
        worker_options: tuple[str, ...] = THREADS_WORKER,
    ) -> None:
        self.name = name
        self.workdir = workdir
        self.database_url = database_url
        self.team_emails = TEAM_EMAILS
        self.smtp = SmtpServer()
        self.twilio = FaultyTwilio()
        self.web_port = free_port()
        self.worker_count = workers
        self.worker_options = worker_options
        self._broker_url = broker_url
        self._extra_env = env or {}
        self.web: Process | None = None
        self.beat: Process | None = None
        self.workers: dict[int, Process] = {}
        self._incarnations: Counter[int] = Counter()
        self.kills = 0
        self._email_ids: list[tuple[int | None, tuple[str, ...]]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self) -> dict[str, str]:
        return {
            "APP_ENV": "production",
            "METRICS_TOKEN": "metrics-token-0123456789abcdef",
            "QUIET_HOURS_ENABLED": "false",  # the suite runs at any hour
            # Hundreds of texts to one area code in a minute is the load under test, not pumping.
            "SMS_DAILY_CAP_PER_PREFIX": "1000000",
            "SMS_SURGE_MIN_PER_HOUR": "1000000",
            "INSTANCE_PATH": str(self.workdir / "instance"),
            "SECRET_KEY": "faults-secret-key-0123456789abcdef",
            "FIELD_ENCRYPTION_KEYS": TEST_FERNET_KEY,
            "PUBLIC_BASE_URL": self.base_url,
            "MAIL_FROM": "Sunrise Clinic <intake@sunrise.example>",
            "TEAM_EMAILS": ",".join(self.team_emails),
            "CLINIC_NAME": "Sunrise Clinic",
            "CLINIC_PHONE": "(310) 555-0100",
            "CLINIC_ADDRESS": "100 Main St, Los Angeles, CA 90001",
            # Bursts of posts are the point here, not the limiter (production refuses memory://,
            # and limits kept in the Redis these scenarios stop would fail the posts).
            "RATELIMIT_ENABLED": "false",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self._broker_url,
            "CELERY_QUEUE": f"faults_{self.name}_{uuid.uuid4().hex[:8]}",
            "SMTP_URL": self.smtp.url,
            **self.twilio.env(TWILIO_TIMEOUT=FAULT_KNOBS["TWILIO_TIMEOUT"]),
            **FAULT_KNOBS,
            **self._extra_env,
        }

    def start(self) -> Stack:
        self.smtp.start()
        self.twilio.start()
        self._env = self.env()  # fixed once: every incarnation of a worker gets the same queue
        web_argv = [
            str(BIN / "gunicorn"), "intake_service.wsgi:app",
            "--bind", f"127.0.0.1:{self.web_port}", "--workers", "2", "--timeout", "30",
        ]  # fmt: skip
        self.web = Process("web", web_argv, self._env, self.workdir)
        beat_argv = [
            str(BIN / "celery"), "-A", "worker", "beat", "--loglevel", "INFO",
            "--schedule", str(self.workdir / "beat-schedule"),
        ]  # fmt: skip
        self.beat = Process("beat", beat_argv, self._env, self.workdir)
        for slot in range(self.worker_count):
            self.start_worker(slot)
        wait_for_http(f"{self.base_url}/readyz", 60, self.web)
        for slot in range(self.worker_count):
            wait_until(partial(self.ready, slot), 60, f"worker {slot}", self.workers[slot])
        return self

    def start_worker(self, slot: int) -> Process:
        self._incarnations[slot] += 1
        incarnation = self._incarnations[slot]
        argv = [
            str(BIN / "celery"), "-A", "worker", "worker", *self.worker_options,
            "-n", f"w{slot}-{incarnation}@%h",
        ]  # fmt: skip
        process = Process(f"worker{slot}-{incarnation}", argv, self._env, self.workdir)
        self.workers[slot] = process
        return process

    def ready(self, slot: int) -> bool:
        process = self.workers[slot]
        return process.alive() and " ready." in process.output()

    def kill_worker(self, slot: int) -> None:
        """kill -9: no cleanup, no acknowledgement, no last commit."""
        self.workers[slot].stop(signal.SIGKILL)
        self.kills += 1

    def worker_pids(self) -> dict[int, int]:
        return {p.popen.pid: slot for slot, p in self.workers.items() if p.alive()}

    def worker_sending_sms(self, timeout: float) -> int | None:
        """The slot of a worker waiting for Twilio's answer right now, within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            for port in self.twilio.in_flight_ports():
                pid = pid_of_client(port, self.twilio.port, pids)
                if pid is not None:
                    return pids[pid]
            time.sleep(0.01)
        return None

    def received_emails(self) -> list[tuple[int | None, tuple[str, ...]]]:
        """(message row id from the Message-ID, recipients) per email the SMTP server took.

        Parsed once per email: the checker polls this every half second over thousands.
        """
        received = self.smtp.messages  # append-only, so earlier positions never change
        for mail in received[len(self._email_ids) :]:
            found = _MESSAGE_ID.search(str(mail.message.get("Message-ID", "")))
            self._email_ids.append((int(found.group(1)) if found else None, mail.rcpt_tos))
        return list(self._email_ids)

    def processes(self) -> list[Process]:
        return [p for p in (self.web, self.beat, *self.workers.values()) if p is not None]

    def log_tails(self, chars: int = 2500) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-chars:]}" for p in self.processes())

    def close(self) -> None:
        for process in self.processes():
            process.stop(timeout=10)
        self.twilio.stop()
        self.smtp.close()


# --- a client that submits leads over HTTP -------------------------------------------------


@dataclass(frozen=True)
class LeadSpec:
    """One lead a scenario submits; email and phone are unique, so deliveries map to leads."""

    tag: str
    n: int
    sms: bool = True

    @property
    def email(self) -> str:
        return f"{self.tag}-{self.n}@patients.example"

    @property
    def phone(self) -> str:
        return f"+1213{200 + self.n // 10000:03d}{self.n % 10000:04d}"  # valid US numbers

    def payload(self) -> dict[str, Any]:
        return {
            "form": "contact",
            "contact": {
                "first_name": "Fault",
                "last_name": "Lead " + _letters(self.n),  # names take letters only
                "email": self.email,
                "phone": self.phone,
                "callback_window": "any",
            },
            "treatment_interest": "tms",
            "consent": {"sms": self.sms, "email": True},
        }


def _letters(number: int) -> str:
    """A number written in letters (0 -> a, 25 -> z, 26 -> ba): a unique, valid name part."""
    word = ""
    while True:
        number, digit = divmod(number, 26)
        word = chr(ord("a") + digit) + word
        if number == 0:
            return word


@dataclass
class Posted:
    spec: LeadSpec
    status: int
    lead_id: str | None
    tries: int
    answers_503: int
    errors: int
    seconds: float


class Client:
    """Posts leads with an Idempotency-Key; retries 503 after Retry-After (capped) and errors."""

    def __init__(self, base_url: str, *, retry_cap: float = 1.0, give_up_after: float = 60) -> None:
        self.url = f"{base_url}/api/v1/submissions"
        self.retry_cap = retry_cap
        self.give_up_after = give_up_after
        self._local = threading.local()
        self._lock = threading.Lock()
        self.posted: list[Posted] = []

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def post(self, spec: LeadSpec) -> Posted:
        started = time.monotonic()
        tries = answers_503 = errors = 0
        status, lead_id = 0, None
        while time.monotonic() - started < self.give_up_after:
            tries += 1
            try:
                response = self._session().post(
                    self.url,
                    json=spec.payload(),
                    headers={"Idempotency-Key": f"{spec.tag}-{spec.n}"},
                    timeout=15,
                )
            except requests.RequestException:
                errors += 1
                time.sleep(0.2)
                continue
            status = response.status_code
            if status == 503:
                answers_503 += 1
                # The service says when to come back; a patient's browser would not wait 30 s.
                retry_after = float(response.headers.get("Retry-After") or 1)
                time.sleep(min(retry_after, self.retry_cap))
                continue
            if status == 201:
                lead_id = str(response.json()["lead_id"])
            break
        posted = Posted(
            spec, status, lead_id, tries, answers_503, errors, time.monotonic() - started
        )
        with self._lock:
            self.posted.append(posted)
        return posted


# --- the end-of-scenario checker -----------------------------------------------------------


@dataclass
class Report:
    scenario: str
    leads: int = 0
    messages: int = 0
    lost: int = 0
    duplicated_sms: int = 0
    duplicated_email: int = 0
    failed: int = 0
    stuck: int = 0
    unprocessed: int = 0  # outbox events not yet taken by a worker
    unexplained: int = 0
    elapsed: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)  # delivery attempts, when recorded
    problems: list[str] = field(default_factory=list)

    @property
    def drained(self) -> bool:
        return self.lost == 0 and self.stuck == 0 and self.unprocessed == 0

    def line(self) -> str:
        return (
            f"scenario={self.scenario} leads={self.leads} messages={self.messages} "
            f"lost={self.lost} duplicated_sms={self.duplicated_sms} "
            f"duplicated_email={self.duplicated_email} failed={self.failed} "
            f"elapsed={self.elapsed:.1f}s"
        )

    def detail(self) -> str:
        return (
            f"  stuck={self.stuck} unprocessed_events={self.unprocessed} "
            f"unexplained={self.unexplained} statuses={dict(sorted(self.statuses.items()))} "
            f"attempts={dict(sorted(self.outcomes.items()))}"
        )

    def progress(self) -> tuple[object, ...]:
        return (self.lost, self.stuck, self.unprocessed, tuple(sorted(self.statuses.items())))


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f} s ago"


def check(scenario: str, stack: Stack, posted: list[Posted], engine: sa.Engine) -> Report:
    """Compare the ledger with what the SMTP server and the Twilio stand-in received."""
    report = Report(scenario)
    with engine.connect() as conn:
        leads = conn.execute(sa.text("SELECT id, email, phone FROM leads")).all()
        sms_consent = {
            str(row.lead_id)
            for row in conn.execute(
                sa.text(
                    "SELECT lead_id FROM consent_events WHERE channel = 'sms' AND action = 'opt_in'"
                )
            )
        }
        messages = conn.execute(
            sa.text(
                "SELECT id, lead_id, audience, channel, recipient, status, last_error, "
                "provider_id, due_at <= now() AS due, attempts, "
                "extract(epoch FROM now() - due_at) AS due_for, "
                "extract(epoch FROM now() - queued_at) AS queued_for FROM messages"
            )
        ).all()
        report.unprocessed = int(
            conn.execute(
                sa.text("SELECT count(*) FROM outbox_events WHERE processed_at IS NULL")
            ).scalar_one()
        )

    # What arrived: emails by their stable Message-ID (one per message row), texts by number.
    emails_by_row: Counter[int] = Counter()
    for row_id, rcpt_tos in stack.received_emails():
        if row_id is not None:
            emails_by_row[row_id] += 1
        else:
            report.problems.append(f"email without our Message-ID to {rcpt_tos}")
            report.unexplained += 1
    texts = stack.twilio.messages
    texts_to: Counter[str] = Counter(t["to"] for t in texts)
    text_sids = {t["sid"] for t in texts}

    # One text per number is all a scenario plans (follow-ups are days away), so any second
    # text to a number is a double text, whether its body repeats ((To, Body) duplicates) or
    # not (a re-render sent again).
    report.duplicated_sms = sum(n - 1 for n in texts_to.values() if n > 1)
    for (to, _), n in Counter((t["to"], t["body"]) for t in texts).items():
        if n > 1:
            report.problems.append(f"text to {to} sent {n} times with the same body")
    report.duplicated_email = sum(n - 1 for n in emails_by_row.values() if n > 1)

    by_lead: dict[str, list[Any]] = {}
    for row in messages:
        by_lead.setdefault(str(row.lead_id), []).append(row)
        report.statuses[row.status] = report.statuses.get(row.status, 0) + 1
        if row.status in NOT_FINAL and row.due:
            report.stuck += 1
            report.problems.append(
                f"message {row.id} ({row.channel}) stuck in {row.status}: due {row.due_for:.1f} s"
                f" ago, queued {_ago(row.queued_for)}, {row.attempts} attempts"
            )
        if row.status == "failed":
            report.failed += 1
        if row.status in ("failed", "suppressed", "undelivered") and not row.last_error:
            report.unexplained += 1
            report.problems.append(f"message {row.id} is {row.status} without last_error")
        arrived = (
            emails_by_row[row.id] > 0 if row.channel == "email" else texts_to[row.recipient] > 0
        )
        if arrived and row.status in ("failed", "suppressed", "cancelled"):
            report.unexplained += 1
            report.problems.append(f"message {row.id} arrived but is recorded {row.status}")
        if row.channel == "sms" and row.status in SENT_STATES and row.provider_id not in text_sids:
            report.unexplained += 1
            report.problems.append(f"message {row.id} sent with an SID Twilio never issued")
    report.messages = len(messages)

    # Per lead: the team email(s), the patient's email and, with consent, the text arrived.
    db_leads = {str(lead.id): lead for lead in leads}
    accepted = {p.lead_id for p in posted if p.lead_id is not None}
    report.leads = len(accepted | set(db_leads))
    for p in posted:
        if p.lead_id is None:
            report.problems.append(
                f"lead {p.spec.n} never accepted: last status {p.status} after {p.tries} tries"
            )
            report.lost += 1
    for lead_id in sorted(accepted | set(db_leads)):
        lead = db_leads.get(lead_id)
        if lead is None:
            report.lost += 1
            report.problems.append(f"lead {lead_id} answered 201 but is not in the database")
            continue
        rows = by_lead.get(lead_id, [])

        def email_arrived(audience: str, recipient: str, rows: list[Any] = rows) -> bool:
            return any(
                emails_by_row[r.id] > 0
                for r in rows
                if r.channel == "email" and r.audience == audience and r.recipient == recipient
            )

        expected: list[tuple[str, bool]] = [
            (f"team email to {address}", email_arrived("team", address))
            for address in stack.team_emails
        ]
        if lead.email:
            expected.append(("patient email", email_arrived("patient", lead.email)))
        if lead.phone and lead_id in sms_consent:
            expected.append(("patient text", texts_to[lead.phone] > 0))
        for what, ok in expected:
            if not ok:
                report.lost += 1
                report.problems.append(f"lead {lead_id}: {what} missing")
    return report


def attempt_outcomes(engine: sa.Engine) -> dict[str, int]:
    """How the delivery attempts ended (sent, adopted, transient, abandoned...), if recorded.

    Evidence that a fault was met and handled; an older schema without the table gives {}.
    """
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT coalesce(outcome, 'open'), count(*) FROM delivery_attempts GROUP BY 1"
                )
            ).all()
    except sa.exc.ProgrammingError:
        return {}
    return {str(outcome): int(count) for outcome, count in rows}


def drain(
    scenario: str,
    stack: Stack,
    posted: list[Posted],
    *,
    started: float,
    timeout: float = 90,
    stall: float = 30,
) -> Report:
    """Poll `check` until everything arrived and nothing is in flight.

    Gives up when nothing has changed for `stall` seconds (longer than any sweep period): a
    message that is lost stops moving. Past `timeout` it keeps waiting only while deliveries
    still progress (a slow, shared machine drains late, not lossily), up to three times
    `timeout`. Once drained, waits a moment and checks again so a late duplicate still counts.
    """
    engine = sa.create_engine(stack.database_url, pool_pre_ping=True)
    try:
        deadline = time.monotonic() + 3 * timeout
        last_change, last_progress = time.monotonic(), None
        while True:
            try:
                report = check(scenario, stack, posted, engine)
            except sa.exc.OperationalError:
                time.sleep(0.5)  # the database is coming back
                continue
            now = time.monotonic()
            if report.progress() != last_progress:
                last_change, last_progress = now, report.progress()
            if report.drained or now > deadline or now - last_change > stall:
                break
            time.sleep(0.5)
        if report.drained:
            time.sleep(1.5)
            report = check(scenario, stack, posted, engine)
        report.outcomes = attempt_outcomes(engine)
    finally:
        engine.dispose()
    report.elapsed = time.monotonic() - started
    # Printed here, before any assertion, so a failing scenario still shows its line.
    print(f"\n{report.line()}\n{report.detail()}")
    SUMMARIES.append(report.line())
    return report


def assert_clean(report: Report, stack: Stack) -> None:
    """Fail on a lost message, a double text, a stuck message or an unexplained final state.

    Duplicate emails are reported, not failed: email is at-least-once with a stable Message-ID
    (a worker killed after the relay took the mail and before the commit sends it again).
    """
    problems = "\n".join(report.problems[:25])
    more = f"\n... and {len(report.problems) - 25} more" if len(report.problems) > 25 else ""
    message = (
        f"{report.line()}\n{report.detail()}\n{problems}{more}\nlogs in {stack.workdir}\n"
        f"{stack.log_tails(1500)}"
    )
    assert report.lost == 0, message
    assert report.duplicated_sms == 0, message
    assert report.stuck == 0, message
    assert report.unexplained == 0, message


def stream(
    client: Client, specs: list[LeadSpec], seconds: float, stop: threading.Event | None = None
) -> list[Posted]:
    """Post `specs` one after another, spread evenly over `seconds`."""
    gap = seconds / max(1, len(specs))
    start = time.monotonic()
    out = []
    for i, spec in enumerate(specs):
        if stop is not None and stop.is_set():
            break
        wait = start + i * gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        out.append(client.post(spec))
    return out


class Timer:
    """Phase timings for the scenario's printout."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self._last = self.start
        self.phases: list[tuple[str, float]] = []

    def mark(self, phase: str) -> None:
        now = time.monotonic()
        self.phases.append((phase, now - self._last))
        self._last = now

    def __str__(self) -> str:
        return "  timings: " + " ".join(f"{name}={secs:.1f}s" for name, secs in self.phases)


def in_background(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread
