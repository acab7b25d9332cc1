"""Speed to lead: how long from a patient's POST until the team email arrives.

Starts the production shape on this machine (gunicorn + a Celery worker with beat, on Redis and
a throwaway PostgreSQL database, a local SMTP server), posts N submissions over HTTP, and prints
the intake request latency and the submission-to-team-email latency, with ratios to the
targets: the team email within 5 seconds (DOMAIN.md, "speed to lead"), the intake answer
within 200 ms.

    python bench/speed_to_lead.py [--leads 50] [--rate 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intake_service.migrate import upgrade
from tests.support.processes import BIN, running, wait_for_http, wait_until
from tests.support.services import (
    REDIS_URL,
    admin_engine,
    database_url,
    free_port,
    unique_name,
)
from tests.support.smtp_server import SmtpServer

TEAM_EMAIL_TARGET = 5.0
INTAKE_TARGET = 0.2


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="submissions per second")
    args = parser.parse_args()

    name = unique_name("intake_bench")
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    pg_url = database_url(name)
    upgrade(pg_url)
    port = free_port()
    arrivals: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp, SmtpServer() as smtp:
            log_dir = Path(tmp)
            env = {
                "APP_ENV": "production",
                "INSTANCE_PATH": str(log_dir / "instance"),
                "SECRET_KEY": "bench-secret-key-0123456789abcdef",
                "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "DATABASE_URL": pg_url,
                "CELERY_BROKER_URL": REDIS_URL,
                "CELERY_QUEUE": unique_name("bench"),
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "MAIL_FROM": "Bench Clinic <intake@bench.example>",
                "TEAM_EMAILS": "team@bench.example",
                "CLINIC_NAME": "Bench Clinic",
                "CLINIC_PHONE": "(310) 555-0100",
                "CLINIC_ADDRESS": "1 Bench St, Los Angeles, CA 90001",
                "SMTP_URL": smtp.url,
                "RATELIMIT_SUBMISSIONS": "100000 per minute",
                "DISPATCH_INTERVAL": "1",
            }
            with running(
                "templates", [str(BIN / "intake-service"), "templates", "load"], env, log_dir
            ) as load:
                load.popen.wait(timeout=60)
            web_argv = [str(BIN / "gunicorn"), "intake_service.wsgi:app", "--bind",
                        f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"]  # fmt: skip
            worker_argv = [str(BIN / "celery"), "-A", "worker", "worker", "--beat", "--pool",
                           "threads", "--concurrency", "8", "--loglevel", "INFO",
                           "--schedule", str(log_dir / "beat")]  # fmt: skip
            with (
                running("web", web_argv, env, log_dir) as web,
                running("worker", worker_argv, env, log_dir) as worker,
            ):
                base = f"http://127.0.0.1:{port}"
                wait_for_http(f"{base}/readyz", 60, web)
                wait_until(lambda: "ready" in worker.output(), 60, "worker ready", worker)

                stop = threading.Event()

                def watch_mail() -> None:
                    seen = 0
                    while not stop.is_set():
                        mails = smtp.messages
                        for mail in mails[seen:]:
                            subject = str(mail.message["Subject"])
                            marker = subject.split("Lead")[-1].split(" ")[0]
                            arrivals.setdefault(marker, time.monotonic())
                        seen = len(mails)
                        time.sleep(0.01)

                watcher = threading.Thread(target=watch_mail, daemon=True)
                watcher.start()
                posted: dict[str, float] = {}
                intake_latency: list[float] = []
                session = requests.Session()
                for index in range(args.leads):
                    marker = f"{index:05d}"
                    started = time.monotonic()
                    answer = session.post(
                        f"{base}/api/v1/submissions",
                        json={
                            "form": "contact",
                            "contact": {"first_name": "Bench", "last_name": f"Lead{marker}",
                                        "email": f"lead{marker}@example.com"},
                            "treatment_interest": "tms",
                        },
                        timeout=10,
                    )  # fmt: skip
                    intake_latency.append(time.monotonic() - started)
                    if answer.status_code != 201:
                        raise SystemExit(f"intake answered {answer.status_code}: {answer.text}")
                    posted[marker] = started
                    time.sleep(max(0.0, 1 / args.rate - (time.monotonic() - started)))
                wait_until(lambda: len(arrivals) >= args.leads, 120, "every team email", worker)
                stop.set()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    to_team = [arrivals[m] - posted[m] for m in posted]
    p50, p95, worst = percentile(to_team, 0.5), percentile(to_team, 0.95), max(to_team)
    i50, i95 = percentile(intake_latency, 0.5), percentile(intake_latency, 0.95)
    print(
        f"leads: {args.leads} at {args.rate:g}/s "
        "(gunicorn 2x4, Celery threads 8, Redis, PostgreSQL)"
    )
    print(f"intake answer:   p50 {i50 * 1000:7.1f} ms  p95 {i95 * 1000:7.1f} ms  "
          f"(target {INTAKE_TARGET * 1000:.0f} ms: p95 is {i95 / INTAKE_TARGET:.2f}x)")  # fmt: skip
    print(f"to team email:   p50 {p50:7.2f} s   p95 {p95:7.2f} s   max {worst:.2f} s  "
          f"(target {TEAM_EMAIL_TARGET:.0f} s: p95 is {p95 / TEAM_EMAIL_TARGET:.2f}x)")  # fmt: skip
    print(f"mean to team email {statistics.mean(to_team):.2f} s")


if __name__ == "__main__":
    main()
