"""A crash of `intake-service run` mid-burst loses no lead: the next start sends what was pending.

Real processes on the embedded default (SQLite, the embedded broker, one worker with beat): a
burst of leads is posted through the API, the whole process group is killed with SIGKILL while
the worker is still busy with it, and `run` is started again on the same instance directory.
Every lead the service stored, answered or not, gets its team email, patient email and text,
and each text and patient email exactly once.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import sqlite3
import threading
from pathlib import Path

import pytest
import requests

from tests.support.processes import BIN, Process, wait_for_http, wait_until
from tests.support.services import free_port

pytestmark = pytest.mark.e2e

BURST = 40
KILL_AFTER = 16  # answered posts before the kill: the worker is then well behind the burst
FIRST_MESSAGES_PER_LEAD = 3  # team email, patient email, patient text


def env_for(instance: Path) -> dict[str, str]:
    env = {
        "APP_ENV": "development",
        "INSTANCE_PATH": str(instance),
        "QUIET_HOURS_ENABLED": "false",  # texts go at any hour of the test run
        "RATELIMIT_ENABLED": "false",  # one client posts the whole burst
        # Forty texts to one exchange in a minute would pause texting there (SMS pumping).
        "SMS_DAILY_CAP_PER_PREFIX": "1000",
        "SMS_SURGE_MIN_PER_HOUR": "1000",
    }
    # Nothing configured: the embedded default, whatever this shell exports.
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "SMTP_URL", "TWILIO_ACCOUNT_SID"):
        env[name] = ""
    return env


def start(instance: Path, log_dir: Path, name: str) -> tuple[Process, str]:
    port = free_port()
    argv = [str(BIN / "intake-service"), "run", "--host", "127.0.0.1", "--port", str(port)]
    service = Process(name, argv, env_for(instance), log_dir)
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/readyz", 90, service)
    wait_until(lambda: re.search(r"celery@\S+ ready", service.output()), 90, "worker", service)
    return service, base


def lead_body(index: int) -> dict[str, object]:
    return {
        "form": "contact",
        "contact": {
            "first_name": "Burst",
            "email": f"burst{index:02d}@example.com",
            "phone": f"+1415555{index:04d}",
        },
        "treatment_interest": "tms",
        "consent": {"sms": True, "email": True},
    }


def query(database: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def first_messages(database: Path) -> dict[str, int]:
    """The leads' first messages by status."""
    rows = query(
        database, "SELECT status, COUNT(*) FROM messages WHERE step_key = 'first' GROUP BY status"
    )
    return {str(status): int(str(count)) for status, count in rows}


def test_a_killed_run_sends_everything_pending_on_the_next_start(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    database = instance / "intake.sqlite"
    first, base = start(instance, tmp_path, "first-run")
    answered: list[int] = []
    lock = threading.Lock()
    enough = threading.Event()

    def post(index: int) -> None:
        try:
            answer = requests.post(f"{base}/api/v1/submissions", json=lead_body(index), timeout=10)
        except requests.RequestException:
            return  # the service was killed under this request
        if answer.status_code == 201:
            with lock:
                answered.append(index)
                if len(answered) >= KILL_AFTER:
                    enough.set()

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(post, index) for index in range(BURST)]
            assert enough.wait(60), first.output()[-3000:]
            # Web, worker and beat at once, as a crash or the OOM killer would.
            os.killpg(first.popen.pid, signal.SIGKILL)
            concurrent.futures.wait(futures)
        first.popen.wait(timeout=30)
    finally:
        first.stop()

    leads = int(str(query(database, "SELECT COUNT(*) FROM leads")[0][0]))
    before = first_messages(database)
    # Every answered lead was committed first; some posts may have been stored unanswered.
    assert leads >= len(answered) >= KILL_AFTER
    # The kill came while work was pending, or this test shows nothing.
    assert before.get("sent", 0) < leads * FIRST_MESSAGES_PER_LEAD, before

    second, _ = start(instance, tmp_path, "second-run")
    try:
        wait_until(
            lambda: first_messages(database) == {"sent": leads * FIRST_MESSAGES_PER_LEAD},
            45,
            f"every first message sent (before the restart: {before}, leads {leads})",
            second,
        )
        texts = query(
            database,
            "SELECT recipient, COUNT(*) FROM dev_mailbox WHERE channel = 'sms' GROUP BY recipient",
        )
        patient_mail = query(
            database,
            "SELECT recipient, COUNT(*) FROM dev_mailbox WHERE channel = 'email'"
            " AND recipient LIKE 'burst%' GROUP BY recipient",
        )
        team_mail = query(
            database,
            "SELECT COUNT(*) FROM dev_mailbox WHERE channel = 'email'"
            " AND recipient NOT LIKE 'burst%'",
        )
        output = second.output()
    finally:
        second.stop()

    assert len(texts) == leads and all(count == 1 for _, count in texts), texts
    assert len(patient_mail) == leads and all(count == 1 for _, count in patient_mail)
    assert team_mail[0][0] == leads
    assert "resuming after an interrupted run" in output
