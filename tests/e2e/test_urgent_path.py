"""Issue 9 end to end with real processes: a crisis message reaches the on-call clinician at once,
is paged again until acknowledged, and never again after the signed link acknowledges it.

gunicorn + a Celery worker with beat on Redis + PostgreSQL, real SMTP and the Twilio stand-in.
URGENT_REPAGE_MINUTES takes fractions; 0.05 (3 s) keeps the re-page honest and the test short,
and the beat sweeps twice per re-page period.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import TEST_FERNET_KEY
from tests.support.processes import (
    BIN,
    celery_worker_argv,
    gunicorn_argv,
    running,
    wait_for_http,
    wait_until,
)
from tests.support.services import free_port, unique_name
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

pytestmark = pytest.mark.e2e

ON_CALL_PHONE = "+13105550199"
REPAGE_SECONDS = 3.0
CRISIS = "Interested in ketamine. Honestly I don't want to live anymore."


def env_for(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        "METRICS_TOKEN": "metrics-token-0123456789abcdef",
        "QUIET_HOURS_ENABLED": "false",  # the suite runs at any hour
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "e2e-secret-key-0123456789abcdef",
        "FIELD_ENCRYPTION_KEYS": TEST_FERNET_KEY,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "MAIL_FROM": "Sunrise Clinic <intake@sunrise.example>",
        "TEAM_EMAILS": "team@sunrise.example",
        "ON_CALL_PHONE": ON_CALL_PHONE,
        "ON_CALL_EMAIL": "oncall@sunrise.example",
        "URGENT_REPAGE_MINUTES": str(REPAGE_SECONDS / 60),
        "CLINIC_NAME": "Sunrise Clinic",
        "CLINIC_PHONE": "(310) 555-0100",
        "CLINIC_ADDRESS": "100 Main St, Los Angeles, CA 90001",
        "RATELIMIT_ENABLED": "false",
        "DISPATCH_INTERVAL": "1",
        **extra,
    }


def on_call_texts(twilio: TwilioStandin) -> list[dict[str, str]]:
    return [t for t in twilio.messages if t["to"] == ON_CALL_PHONE]


def test_crisis_message_pages_on_call_again_until_acknowledged(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    port = free_port()
    with SmtpServer() as smtp, TwilioStandin() as twilio:
        env = env_for(
            tmp_path,
            port,
            DATABASE_URL=pg_url,
            CELERY_BROKER_URL=redis_url,
            CELERY_QUEUE=unique_name("e2e-urgent"),
            SMTP_URL=smtp.url,
            **twilio.env(),
        )
        load = running(
            "templates", [str(BIN / "intake-service"), "templates", "load"], env, tmp_path
        )
        with load as proc:
            assert proc.popen.wait(timeout=60) == 0, proc.output()
        web_argv = gunicorn_argv(port)
        worker_argv = celery_worker_argv(tmp_path)
        with (
            running("web", web_argv, env, tmp_path) as web,
            running("worker", worker_argv, env, tmp_path) as worker,
        ):
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/readyz", 30, web)

            # The patient writes on the contact form, as a browser posts it.
            session = requests.Session()
            page = session.get(f"{base}/contact", timeout=10)
            fields = dict(
                re.findall(r'name="(csrf_token|submission_token)"[^>]*value="([^"]+)"', page.text)
            )
            posted_at = time.monotonic()
            answer = session.post(
                f"{base}/contact",
                data={
                    **fields,
                    "first_name": "Robin",
                    "last_name": "Hale",
                    "email": "robin@example.com",
                    "phone": "(310) 555-0142",
                    "treatment_interest": "ketamine",
                    "callback_window": "any",
                    "message": CRISIS,
                },
                timeout=10,
            )
            assert answer.status_code == 200, answer.text[:2000]
            # The 988 answer, first and tappable, instead of the ordinary thank-you.
            assert 'href="tel:988"' in answer.text and "988lifeline.org" in answer.text
            assert 'href="tel:911"' in answer.text

            first = wait_until(lambda: on_call_texts(twilio), 15, "the on-call text", web, worker)
            assert time.monotonic() - posted_at < 15
            (page_text,) = first  # type: ignore[misc]
            body = page_text["body"]
            assert body.startswith("Urgent lead: call now")
            assert "Robin" not in body and "ketamine" not in body and "want" not in body

            # Unacknowledged: paged again after the timeout (the team too).
            wait_until(
                lambda: len(on_call_texts(twilio)) >= 2, 8 * REPAGE_SECONDS, "a re-page",
                web, worker,
            )  # fmt: skip

            link = re.search(r"http://127\.0\.0\.1:\d+/ack/\S+", body)
            assert link is not None, body
            acked = requests.post(link[0], timeout=10)
            assert acked.status_code == 200 and "acknowledged" in acked.text.lower()

            # A page already handed to a worker may still land; then nothing more, over
            # several re-page periods.
            time.sleep(REPAGE_SECONDS)
            settled = len(on_call_texts(twilio))
            time.sleep(3 * REPAGE_SECONDS)
            assert len(on_call_texts(twilio)) == settled, "paged after acknowledgement"
            mails = list(smtp.messages)

    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        lead = conn.execute(
            sa.text("SELECT id, urgent, acknowledged_at FROM leads WHERE email IS NOT NULL")
        ).one()
        rows = conn.execute(
            sa.text("SELECT step_key, audience, template_key FROM messages WHERE lead_id = :i"),
            {"i": lead.id},
        ).all()
        pages = conn.execute(
            sa.text("SELECT round, outcome FROM urgent_pages WHERE lead_id = :i ORDER BY round"),
            {"i": lead.id},
        ).all()
    engine.dispose()
    assert lead.urgent and lead.acknowledged_at is not None
    # No drip: the patient got the crisis reply only, nothing planned for later.
    patient = {(r.step_key, r.template_key) for r in rows if r.audience == "patient"}
    assert patient <= {("first", "patient_crisis_reply")} and patient
    assert {r.step_key for r in rows} <= {"first"} | {f"page{n}" for n in range(1, 50)}
    assert pages[-1].outcome == "acknowledged"
    assert "paged" in [p.outcome for p in pages]
    # The team heard of it by email, with no health detail in the subject.
    team = [m for m in mails if "team@sunrise.example" in m.rcpt_tos]
    assert team and all("want to live" not in str(m.message["Subject"]) for m in team)
