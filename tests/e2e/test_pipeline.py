"""End to end with real processes: post a form over HTTP, see the team email and the text arrive.

Once on Redis + PostgreSQL with gunicorn and a Celery worker (beat embedded), real SMTP and the
Twilio stand-in; once through `intake-service run` on the embedded default.
"""

from __future__ import annotations

import re
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
from tests.support.smtp_server import ReceivedMail, SmtpServer
from tests.support.twilio_standin import TwilioStandin

pytestmark = pytest.mark.e2e

TMS_ANSWERS = {
    "struggles_with_depression_ocd_anxiety": True,
    "has_symptoms": True,
    "tried_antidepressants": True,
    "tried_talk_therapy": False,
    "doctor_suggested_tms": False,
}


def subject(mail: ReceivedMail) -> str:
    return str(mail.message["Subject"])


def text(mail: ReceivedMail) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def production_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        "METRICS_TOKEN": "metrics-token-0123456789abcdef",
        "QUIET_HOURS_ENABLED": "false",  # the suite runs at any hour
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "e2e-secret-key-0123456789abcdef",
        "FIELD_ENCRYPTION_KEYS": TEST_FERNET_KEY,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "MAIL_FROM": "Sunrise Clinic <intake@sunrise.example>",
        "TEAM_EMAILS": "team@sunrise.example,oncall@sunrise.example",
        "CLINIC_NAME": "Sunrise Clinic",
        "CLINIC_PHONE": "(310) 555-0100",
        "CLINIC_ADDRESS": "100 Main St, Los Angeles, CA 90001",
        # Production keeps limits in shared Redis; this test's few posts need no limiter, and a
        # Redis shared with other runs would count their posts against this one.
        "RATELIMIT_ENABLED": "false",
        "DISPATCH_INTERVAL": "1",
        **extra,
    }


def test_form_to_team_email_and_text_on_redis_and_postgresql(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    port = free_port()
    with SmtpServer() as smtp, TwilioStandin() as twilio:
        env = production_env(
            tmp_path,
            port,
            DATABASE_URL=pg_url,
            CELERY_BROKER_URL=redis_url,
            CELERY_QUEUE=unique_name("e2e"),
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

            answer = requests.post(
                f"{base}/api/v1/submissions",
                json={
                    "form": "tms_screen",
                    "contact": {
                        "first_name": "Jane",
                        "last_name": "Doe",
                        "email": "jane@example.com",
                        "phone": "(310) 555-0123",
                        "callback_window": "evening",
                    },
                    "treatment_interest": "tms",
                    "answers": TMS_ANSWERS,
                    "consent": {"sms": True, "email": True},
                },
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            lead_id = answer.json()["lead_id"]

            # The real form, as a browser posts it: GET for the CSRF token, then POST.
            session = requests.Session()
            page = session.get(f"{base}/contact", timeout=10)
            fields = dict(
                re.findall(r'name="(csrf_token|submission_token)"[^>]*value="([^"]+)"', page.text)
            )
            posted = session.post(
                f"{base}/contact",
                data={
                    **fields,
                    "first_name": "Sam",
                    "last_name": "Lee",
                    "email": "sam@example.com",
                    "phone": "",
                    "treatment_interest": "ketamine",
                    "callback_window": "morning",
                    "message": "private words",
                },
                timeout=10,
            )
            assert posted.status_code == 200 and "Thank you" in posted.text, posted.text[:2000]

            # Two team addresses per lead, plus each patient's email: 6 mails; Jane's text.
            mails = wait_until(
                lambda: len(smtp.messages) >= 6 and smtp.messages, 30, "mail", web, worker
            )
            wait_until(lambda: twilio.messages, 30, "the text", web, worker)

    team = [m for m in mails if "team@sunrise.example" in m.rcpt_tos]
    # Subjects show on lock screens: a reference, never the patient's name.
    assert len(team) == 2 and all("New lead: " in subject(m) for m in team)
    assert not any(name in subject(m) for m in team for name in ("Jane", "Doe", "Sam", "Lee"))
    jane_team = next(m for m in team if "Jane Doe" in text(m))
    assert f"/staff/leads/{lead_id}" in text(jane_team)
    assert "high priority" in subject(jane_team)  # triaged: the core TMS indication
    assert all("private words" not in text(m) for m in mails)
    texts = twilio.messages
    assert [t["to"] for t in texts] == ["+13105550123"]
    assert "Sunrise Clinic" in texts[0]["body"]

    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        statuses = conn.execute(
            sa.text(
                "SELECT status, count(*) FROM messages WHERE step_key = 'first' GROUP BY status"
            )
        ).all()
        follow_up = conn.execute(
            sa.text("SELECT DISTINCT status FROM messages WHERE step_key <> 'first'")
        ).all()
        leads = conn.execute(sa.text("SELECT count(*) FROM leads")).scalar()
    engine.dispose()
    assert leads == 2
    assert dict(statuses) == {"sent": 7}
    assert follow_up == [("planned",)]  # day 1, 3 and 7 wait in the database, not the broker


def test_intake_service_run_on_the_embedded_default(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "APP_ENV": "development",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DISPATCH_INTERVAL": "1",
        # The suite runs at any hour: after 9 pm in California the text would wait for morning.
        "QUIET_HOURS_ENABLED": "false",
    }
    # Nothing configured: no DATABASE_URL, broker, SMTP or Twilio in the environment.
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "SMTP_URL", "TWILIO_ACCOUNT_SID"):
        env[name] = ""
    argv = [str(BIN / "intake-service"), "run", "--host", "127.0.0.1", "--port", str(port)]
    with running("run", argv, env, tmp_path) as service:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/readyz", 60, service)
        answer = requests.post(
            f"{base}/api/v1/submissions",
            json={
                "form": "contact",
                "contact": {
                    "first_name": "Ana",
                    "phone": "(415) 555-0134",
                    "email": "ana@example.com",
                },
                "treatment_interest": "spravato",
                "consent": {"sms": True},
            },
            timeout=10,
        )
        assert answer.status_code == 201, answer.text

        def outbox() -> str | None:
            page = requests.get(f"{base}/dev/mailbox", timeout=5).text
            done = (
                "team@clinic.example" in page
                and "+14155550134" in page
                and "ana@example.com" in page
            )
            return page if done else None

        page = wait_until(
            outbox, 60, "team email, patient email and text in the dev mailbox", service
        )
        assert "New lead: " in str(page) and "New lead: Ana" not in str(page)
        output = service.output()
    assert "/contact" in output and "/dev/mailbox" in output
    assert (tmp_path / "instance" / "intake.sqlite").exists()
