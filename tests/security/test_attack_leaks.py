"""Nothing sensitive leaks: an end-to-end run (form and API submissions, processing, delivery,
staff pages) with every log line, every broker message and the metrics captured, searched for
the patients' names, phones, emails and free text."""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.signals import before_task_publish
from flask import Flask

from intake_service.db import Database
from tests.domain.builders import load_templates
from tests.support import factories

pytestmark = pytest.mark.security

PATIENTS = [
    {
        "first_name": "Ottoline",
        "last_name": "Vanderkamp",
        "email": "ottoline.vdk@patients.example",
        "phone": "(213) 373-4253",
        "e164": "+12133734253",
        "message": "Since the divorce I cannot sleep and the sertraline stopped helping",
    },
    {
        "first_name": "Bartholomew",
        "last_name": "Quillfeather",
        "email": "bq.private@patients.example",
        "phone": "(310) 555-0142",
        "e164": "+13105550142",
        "message": "I keep thinking everyone would be better off without me",  # urgent path
    },
]


def secrets(patient: dict[str, str]) -> dict[str, str]:
    """What must never leave the database, and the forms it would take in a leak."""
    words = patient["message"].split()
    return {
        "first name": patient["first_name"],
        "last name": patient["last_name"],
        "email": patient["email"],
        "email local part": patient["email"].split("@")[0],
        "phone (E.164)": patient["e164"],
        "phone digits": patient["e164"][2:],
        "phone as typed": patient["phone"],
        "free text": " ".join(words[2:6]),
    }


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    """Every message the Celery app hands its producer: task name, args, kwargs, headers."""
    seen: list[dict[str, Any]] = []

    def record(sender: str | None = None, body: Any = None, headers: Any = None, **_: Any) -> None:
        args, kwargs, _embed = (
            body if isinstance(body, tuple) and len(body) == 3 else (body, {}, {})
        )
        seen.append(
            {"task": sender, "args": args, "kwargs": kwargs, "headers": dict(headers or {})}
        )

    before_task_publish.connect(record, weak=False)
    yield seen
    before_task_publish.disconnect(record)


def broker_payloads(app: Flask) -> list[str]:
    """The raw messages in the embedded broker's table (embedded_broker.py), bodies decoded."""
    url: str = app.extensions["intake.settings"].broker_url
    path = Path(url.removeprefix("sqla+sqlite:///"))
    if not path.exists():
        return []
    with sqlite3.connect(path) as connection:
        try:
            rows = connection.execute("SELECT payload FROM queue_messages").fetchall()
        except sqlite3.OperationalError:
            return []
    decoded = []
    for (payload,) in rows:
        decoded.append(payload)
        try:
            body = json.loads(payload).get("body", "")
            decoded.append(base64.b64decode(body).decode("utf-8", "replace"))
        except (ValueError, AttributeError):
            pass
    return decoded


def run_published(app: Flask, published: list[dict[str, Any]]) -> int:
    """Run, in this process, every task handed to the broker (and those they hand on)."""
    celery = app.extensions["celery"]
    done = 0
    with app.app_context():
        while done < len(published):
            message = published[done]
            done += 1
            task = celery.tasks.get(message["task"])
            if task is not None:
                task.run(*message["args"], **message["kwargs"])
        celery.tasks["intake_service.tasks.dispatch_due"].run()
        while done < len(published):
            message = published[done]
            done += 1
            celery.tasks[message["task"]].run(*message["args"], **message["kwargs"])
    return done


def test_no_name_phone_email_or_free_text_in_logs_broker_or_metrics(
    make_app: Callable[..., Flask],
    published: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    tally: Callable[..., Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app()
    app.config["WTF_CSRF_ENABLED"] = False
    db: Database = app.extensions["intake.db"]
    load_templates(db)
    with db.transaction() as session:
        staff = factories.user(session, "coordinator").email
    client = app.test_client()

    first, second = PATIENTS
    form = client.post(
        "/contact?utm_source=newsletter",
        data={
            "first_name": first["first_name"],
            "last_name": first["last_name"],
            "email": first["email"],
            "phone": first["phone"],
            "message": first["message"],
            "treatment_interest": "ketamine",
            "callback_window": "evening",
            "sms_consent": "y",
        },
    )
    assert form.status_code == 303, form.get_data(as_text=True)[:500]
    api = client.post(
        "/api/v1/submissions",
        json={
            "form": "contact",
            "contact": {k: second[k] for k in ("first_name", "last_name", "email", "phone")},
            "treatment_interest": "spravato",
            "message": second["message"],
            "consent": {"sms": True, "email": True},
        },
        headers={"Idempotency-Key": "leak-test-1"},
    )
    assert api.status_code == 201 and api.get_json()["urgent"] is True
    # Refusals must not echo what was typed either.
    refused = client.post(
        "/api/v1/submissions",
        json={
            "form": "contact",
            "contact": {
                "first_name": first["first_name"],
                "email": "not-an-email " + first["email"],
            },
        },
    )
    assert refused.status_code == 422
    ran = run_published(app, published)
    assert ran >= 3, "processing and delivery should have been handed to the broker"
    client.post("/login", data={"email": staff, "password": factories.STAFF_PASSWORD})
    client.get("/staff/leads")
    metrics = client.get("/metrics")

    sources = {
        "log lines": [r.getMessage() + " " + (r.exc_text or "") for r in caplog.records],
        "task messages": [json.dumps(m, default=str) for m in published],
        "broker queue": broker_payloads(app),
        "metrics": [metrics.get_data(as_text=True)],
        "422 answer": [refused.get_data(as_text=True)],
    }
    cases = tally("leaks")
    for source, texts in sources.items():
        joined = "\n".join(texts)
        for patient in PATIENTS:
            for kind, secret in secrets(patient).items():
                if source == "422 answer" and kind not in (
                    "first name",
                    "email",
                    "email local part",
                ):
                    continue
                cases.case(secret not in joined, f"{source} holds a patient's {kind}")
    cases.case(len(sources["log lines"]) > 0, "no log line was captured: the capture is broken")
    cases.case(len(published) >= 3, "no broker message was captured: the capture is broken")
    cases.case(len(sources["broker queue"]) > 0, "the broker's queue table was not read")
    for message in published:
        ids_only = all(
            isinstance(a, int) or (isinstance(a, str) and len(a) <= 40) for a in message["args"]
        )
        cases.case(ids_only and not message["kwargs"], f"{message['task']} takes more than ids")
    cases.check()
