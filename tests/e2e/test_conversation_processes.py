"""A text conversation with real processes: gunicorn and a Celery worker on Redis + PostgreSQL,
the Twilio stand-in reached through the SDK, and webhook posts signed as Twilio signs them.

Submit, receive the first text, reply "evening" (a callback request, the drip stopped), reply
STOP (every planned text cancelled, nothing sent after), then START and HELP.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from tests.e2e.test_pipeline import production_env
from tests.support.processes import (
    BIN,
    Process,
    celery_worker_argv,
    gunicorn_argv,
    running,
    wait_for_http,
    wait_until,
)
from tests.support.services import free_port, unique_name
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PHONE = "+13105550123"
CLINIC_NUMBER = "+13105550100"


class Twilio:
    """Twilio's side: the stand-in that takes sends, and signed posts to the web tier."""

    def __init__(self, standin: TwilioStandin, base: str) -> None:
        self.standin = standin
        self.base = base
        self.count = 0

    def text_in(self, body: str) -> requests.Response:
        self.count += 1
        sid = f"SM{self.count:032x}"
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.standin.account_sid,
            "From": PHONE,
            "To": CLINIC_NUMBER,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        url = f"{self.base}/webhooks/twilio/sms"
        signature = RequestValidator(self.standin.auth_token).compute_signature(url, params)
        return requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
        )

    def texts_to_patient(self) -> list[dict[str, Any]]:
        return [m for m in self.standin.messages if m["to"] == PHONE]


def submit(base: str, email: str, treatment: str) -> requests.Response:
    """Jane's contact form through the API, texts and email consented, from PHONE."""
    return requests.post(
        f"{base}/api/v1/submissions",
        json={
            "form": "contact",
            "contact": {"first_name": "Jane", "email": email, "phone": PHONE},
            "treatment_interest": treatment,
            "consent": {"sms": True, "email": True},
        },
        timeout=10,
    )


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params).all())


def test_submit_text_reply_evening_stop_start_help_across_real_processes(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    engine = sa.create_engine(pg_url)
    with SmtpServer() as smtp, TwilioStandin() as standin:
        env = production_env(
            tmp_path,
            port,
            DATABASE_URL=pg_url,
            CELERY_BROKER_URL=redis_url,
            CELERY_QUEUE=unique_name("e2e-talk"),
            SMTP_URL=smtp.url,
            DUPLICATE_WINDOW_DAYS="0",  # the second form is a lead of its own
            **standin.env(),
        )
        with running(
            "templates", [str(BIN / "intake-service"), "templates", "load"], env, tmp_path
        ) as load:
            assert load.popen.wait(timeout=60) == 0, load.output()
        web_argv = gunicorn_argv(port)
        worker_argv = celery_worker_argv(tmp_path)
        with (
            running("web", web_argv, env, tmp_path) as web,
            running("worker", worker_argv, env, tmp_path) as worker,
        ):
            procs: tuple[Process, ...] = (web, worker)
            twilio = Twilio(standin, base)
            wait_for_http(f"{base}/readyz", 30, web)

            # 1. The form with the SMS box ticked; the first text arrives through the SDK.
            answer = submit(base, "jane@example.com", "tms")
            assert answer.status_code == 201, answer.text
            lead_id = answer.json()["lead_id"]
            wait_until(twilio.texts_to_patient, 30, "the first text", *procs)
            planned_sms = """SELECT count(*) FROM messages WHERE lead_id = :lead
                AND channel = 'sms' AND audience = 'patient' AND status IN ('planned', 'queued')"""
            assert rows(engine, planned_sms, lead=lead_id)[0][0] > 0, "the follow-up texts wait"

            # 2. "evening": a callback request, the drip stopped, no automatic answer.
            reply = twilio.text_in("evening")
            assert reply.status_code == 200 and "<Message>" not in reply.text
            callbacks = rows(
                engine, 'SELECT "window" FROM callback_requests WHERE lead_id = :lead', lead=lead_id
            )
            assert callbacks == [("evening",)]
            stopped = rows(
                engine, "SELECT sequence_stop_reason FROM leads WHERE id = :lead", lead=lead_id
            )
            assert stopped == [("callback_requested",)]
            assert rows(engine, planned_sms, lead=lead_id)[0][0] == 0

            # 3. STOP: one confirmation, the number blocked; nothing texted after, even for a
            # new form from the same number.
            texts_before = len(twilio.texts_to_patient())
            stop = twilio.text_in("STOP")
            assert stop.status_code == 200
            assert "unsubscribed" in stop.text and "START" in stop.text
            again = submit(base, "jane2@example.com", "ketamine")
            assert again.status_code == 201, again.text
            # The second lead's emails go out; its text must not.
            wait_until(
                lambda: any("jane2@example.com" in m.rcpt_tos for m in smtp.messages),
                30,
                "the second lead's email",
                *procs,
            )
            time.sleep(3)  # three dispatch ticks: time enough for a text that should not go
            assert len(twilio.texts_to_patient()) == texts_before
            opted_out = rows(
                engine, "SELECT count(*) FROM phone_opt_outs WHERE phone = :phone", phone=PHONE
            )
            assert opted_out[0][0] >= 1

            # 4. START: subscribed again, confirmed once; HELP: the clinic and how to stop.
            start = twilio.text_in("START")
            assert start.status_code == 200 and "again" in start.text
            help_answer = twilio.text_in("HELP")
            assert help_answer.status_code == 200
            assert "Sunrise Clinic" in help_answer.text and "STOP" in help_answer.text
            assert "(310) 555-0100" in help_answer.text

            # Every inbound text was kept, once each.
            inbound = rows(engine, "SELECT count(*) FROM inbound_messages")
            assert inbound[0][0] == 4
    engine.dispose()
