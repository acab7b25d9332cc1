"""Multiprocess metrics with real processes: two gunicorn workers and a prefork Celery worker
write into one PROMETHEUS_MULTIPROC_DIR, and any web worker's /metrics adds all of them up."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_pipeline import production_env
from tests.support.processes import BIN, running, wait_for_http, wait_until
from tests.support.services import free_port, unique_name
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.e2e

LEADS = 4
TOKEN = "metrics-token-0123456789abcdef"  # the one production_env sets


def totals(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_every_process_counts_into_one_folder_and_any_web_worker_adds_them_up(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    port = free_port()
    folder = tmp_path / "metrics"
    folder.mkdir()
    with SmtpServer() as smtp:
        env = production_env(
            tmp_path,
            port,
            DATABASE_URL=pg_url,
            CELERY_BROKER_URL=redis_url,
            CELERY_QUEUE=unique_name("metrics"),
            SMTP_URL=smtp.url,
            SMS_ENABLED="false",
            PROMETHEUS_MULTIPROC_DIR=str(folder),
        )
        assert env["METRICS_TOKEN"] == TOKEN
        load = running(
            "templates", [str(BIN / "intake-service"), "templates", "load"], env, tmp_path
        )
        with load as proc:
            assert proc.popen.wait(timeout=60) == 0, proc.output()
        web_argv = [
            str(BIN / "gunicorn"), "intake_service.wsgi:app", "--bind", f"127.0.0.1:{port}",
            "--workers", "2", "--config", "python:intake_service.gunicorn_hooks",
        ]  # fmt: skip
        worker_argv = [
            str(BIN / "celery"), "-A", "worker", "worker", "--beat", "--pool", "prefork",
            "--concurrency", "2", "--loglevel", "INFO",
            "--schedule", str(tmp_path / "beat-schedule"),
        ]  # fmt: skip
        with (
            running("web", web_argv, env, tmp_path) as web,
            running("worker", worker_argv, env, tmp_path) as worker,
        ):
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/readyz", 60, web)
            for number in range(LEADS):
                answer = requests.post(
                    f"{base}/api/v1/submissions",
                    json={
                        "form": "contact",
                        "contact": {"first_name": "Ana", "email": f"ana{number}@example.com"},
                    },
                    timeout=10,
                )
                assert answer.status_code == 201, answer.text
            # Two team addresses and the patient's email per lead.
            wait_until(lambda: len(smtp.messages) >= 3 * LEADS, 60, "mail", web, worker)

            def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
                response = requests.get(
                    f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
                )
                assert response.status_code == 200
                return totals(response.text)

            # The last send is recorded just after the provider accepted it.
            def sent_all() -> bool:
                sent = scrape().get(
                    ("intake_delivery_attempts_total", (("channel", "email"), ("outcome", "sent")))
                )
                return sent == 3 * LEADS

            wait_until(sent_all, 30, "the sends counted", web, worker)
            # Whichever web worker answers, the totals are every process's.
            for _ in range(8):
                scraped = scrape()
                accepted = (("form", "contact"), ("outcome", "accepted"))
                assert scraped[("intake_submissions_total", accepted)] == LEADS
                assert scraped[("intake_triage_total", (("priority", "normal"),))] == LEADS
                speed = ("intake_speed_to_lead_seconds_count", (("kind", "new_lead"),))
                assert scraped[speed] == 2 * LEADS  # one per team email
                assert scraped[("intake_broker_up", ())] == 1
            assert requests.get(f"{base}/metrics", timeout=10).status_code == 401

    # One file per process that counted, named by host and pid: web workers and pool processes.
    files = sorted(path.name for path in folder.glob("*.db"))
    host = socket.gethostname()
    assert files and all(f"_{host}-" in name for name in files), files
    pids = {name.rsplit("-", 1)[1].removesuffix(".db") for name in files}
    assert len(pids) >= 3, files  # two gunicorn workers, at least one Celery pool process
