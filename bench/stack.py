"""The production shape on this machine, for benchmarks: gunicorn, Celery, PostgreSQL, Redis.

`production_stack()` makes a throwaway database, starts a local SMTP server and the Twilio
stand-in, loads the message templates, starts gunicorn and a Celery worker (with beat), and
drops everything afterwards. Every bench uses the same settings, so figures compare.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from celery import Celery
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intake_service.migrate import upgrade
from tests.support.processes import BIN, Process, running, wait_for_http, wait_until
from tests.support.services import PG_ADMIN_URL, REDIS_URL, PostgresServer, free_port, unique_name
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

# The same for the service and the floor app: 2 cores, so 2 processes with a few threads.
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
TEAM_EMAIL = "team@bench.example"


def gunicorn_argv(app: str, port: int) -> list[str]:
    return [str(BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}",
            "--workers", str(GUNICORN_WORKERS), "--threads", str(GUNICORN_THREADS),
            "--worker-tmp-dir", "/dev/shm"]  # fmt: skip


@dataclass
class Stack:
    base: str
    env: dict[str, str]
    smtp: SmtpServer
    twilio: TwilioStandin
    web: Process
    worker_argv: list[str]
    log_dir: Path
    queue: str
    worker: Process | None = None

    def start_worker(self) -> Process:
        self.worker = Process("worker", self.worker_argv, self.env, self.log_dir)
        wait_until(lambda: _worker_ready(self.env), 60, "worker ready", self.worker)
        return self.worker

    def celery(self) -> Celery:
        """A Celery client on the bench's broker (for floor tasks)."""
        return Celery(broker=REDIS_URL, set_as_current=False)

    def wait_drained(self, queue: str, timeout: float = 120) -> None:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        deadline = time.monotonic() + timeout
        while client.llen(queue) and time.monotonic() < deadline:
            time.sleep(0.01)


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def service_env(pg_url: str, port: int, log_dir: Path, smtp: SmtpServer, twilio: TwilioStandin,
                queue: str) -> dict[str, str]:  # fmt: skip
    return {
        "APP_ENV": "production",
        "METRICS_TOKEN": "metrics-token-0123456789abcdef",
        "QUIET_HOURS_ENABLED": "false",  # a benchmark runs at any hour
        "INSTANCE_PATH": str(log_dir / "instance"),
        "SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": pg_url,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_QUEUE": queue,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "MAIL_FROM": "Bench Clinic <intake@bench.example>",
        "TEAM_EMAILS": TEAM_EMAIL,
        "CLINIC_NAME": "Bench Clinic",
        "CLINIC_PHONE": "(310) 555-0100",
        "CLINIC_ADDRESS": "1 Bench St, Los Angeles, CA 90001",
        # Quiet hours must not defer the texts whatever the hour of the run.
        "CLINIC_TIMEZONE": os.environ.get("BENCH_CLINIC_TIMEZONE", "UTC"),
        "SMTP_URL": smtp.url,
        "SMS_ENABLED": "true",
        **twilio.env(TWILIO_TIMEOUT="10"),
        "RATELIMIT_ENABLED": "false",
        "DISPATCH_INTERVAL": "1",
        # Hundreds of leads from one area code are what the SMS-pumping defence pauses: a
        # benchmark's flood is not toll fraud, and every lead must get its text.
        "SMS_SURGE_MIN_PER_HOUR": "1000000",
        "SMS_DAILY_CAP_PER_PREFIX": "1000000",
    }


@contextmanager
def production_stack(
    *, pool: str = "prefork", concurrency: int = 2, extra_env: dict[str, str] | None = None,
    worker_args: Sequence[str] = (), start_worker: bool = True,
) -> Iterator[Stack]:  # fmt: skip
    postgres = PostgresServer(PG_ADMIN_URL)
    name = unique_name("intake_bench")
    pg_url = postgres.create_database(name)
    queue = unique_name("bench")
    try:
        upgrade(pg_url)
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp, SmtpServer() as smtp, TwilioStandin() as twilio:
            log_dir = Path(tmp)
            env = {**service_env(pg_url, port, log_dir, smtp, twilio, queue), **(extra_env or {})}
            with running("templates", [str(BIN / "intake-service"), "templates", "load"], env,
                         log_dir) as load:  # fmt: skip
                load.popen.wait(timeout=60)
            worker_argv = [str(BIN / "celery"), "-A", "worker", "worker", "--beat", "--pool", pool,
                           "--concurrency", str(concurrency), "--loglevel", "WARNING",
                           "--schedule", str(log_dir / "beat"), *worker_args]  # fmt: skip
            with running(
                "web", gunicorn_argv("intake_service.wsgi:app", port), env, log_dir
            ) as web:
                base = f"http://127.0.0.1:{port}"
                wait_for_http(f"{base}/readyz", 60, web)
                stack = Stack(base, env, smtp, twilio, web, worker_argv, log_dir, queue)
                try:
                    if start_worker:
                        stack.start_worker()
                    yield stack
                finally:
                    if stack.worker is not None:
                        stack.worker.stop()
    finally:
        postgres.drop_database(name)
        _drop_queues(queue)


def _worker_ready(env: dict[str, str]) -> bool:
    """The worker answers a ping (its log is WARNING-only, so no "ready" line)."""
    answer = subprocess.run(
        [str(BIN / "celery"), "-A", "worker", "inspect", "ping", "--timeout", "2"],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
        cwd=str(Path(__file__).resolve().parents[1]),
    )  # fmt: skip
    return answer.returncode == 0 and "pong" in answer.stdout


def _drop_queues(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = client.keys(f"*{queue}*")
    if keys:
        client.delete(*keys)


def name_marker(index: int) -> str:
    """The index spelt in letters (names take no digits): 42 -> "aaaec"."""
    return "".join(chr(ord("a") + int(digit)) for digit in f"{index:05d}")


def marker_index(marker: str) -> int:
    return int("".join(str(ord(letter) - ord("a")) for letter in marker.lower()))


def submission_body(index: int) -> dict[str, object]:
    """A contact form whose team email subject and text recipient both name the index."""
    return {
        "form": "contact",
        "contact": {"first_name": "Bench", "last_name": f"Lead{name_marker(index)}",
                    "email": f"lead{index:05d}@example.com",
                    "phone": f"+1310{5550000 + index:07d}"[:12]},
        "treatment_interest": "tms",
        "consent": {"sms": True, "email": True},
    }  # fmt: skip


def phone_of(index: int) -> str:
    return str(submission_body(index)["contact"]["phone"])  # type: ignore[index]


def post_paced(
    base: str, count: int, rate: float | None, threads: int = 16,
    on_posted: Callable[[int, float], None] | None = None,
) -> tuple[list[float], int]:  # fmt: skip
    """POST `count` submissions from `threads` threads, at `rate` per second (None: flat out).

    Returns the request latencies and the number of answers other than 201.
    """
    local = threading.local()
    started_at = time.monotonic()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def post(index: int) -> None:
        nonlocal errors
        if rate:
            delay = started_at + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        began = time.monotonic()
        try:
            status = session.post(f"{base}/api/v1/submissions", json=submission_body(index),
                                  timeout=30).status_code  # fmt: skip
        except requests.RequestException:
            status = 0
        took = time.monotonic() - began
        with lock:
            latencies.append(took)
            if status != 201:
                errors += 1
        if status == 201 and on_posted is not None:
            on_posted(index, began)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(count)))
    return latencies, errors
