"""The service's own log output, as production writes it: JSON lines with request and lead ids,
and nothing about the person (no names, phones, emails, answers or words)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from intake_service import logs, tasks
from intake_service.models import Message
from tests.domain.builders import load_templates

NAME, SURNAME = "Zebedee", "Quillfeather"
EMAIL, PHONE = "zebedee.quill@example.com", "+13105550177"
CRISIS = "I want to end my life tonight"
PERSONAL = (NAME, SURNAME, EMAIL, PHONE, PHONE[2:], CRISIS, "end my life")


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """What the service's log handler writes (the handler create_app set up), for one test."""
    if not any(getattr(h, "intake_handler", False) for h in logging.getLogger().handlers):
        logs.configure("plain")  # what create_app does; the test's app sets the format
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "intake_handler", False))
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    # Every line must be one JSON object: json.loads raises on any other.
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def post(app: Flask, request_id: str | None) -> Any:
    headers = {"X-Request-ID": request_id} if request_id else {}
    return app.test_client().post(
        "/api/v1/submissions",
        json={
            "form": "contact",
            "contact": {"first_name": NAME, "last_name": SURNAME, "email": EMAIL, "phone": PHONE},
            "consent": {"sms": True},
            "message": CRISIS,
        },
        headers=headers,
    )


@pytest.fixture
def json_app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app(LOG_FORMAT="json")
    load_templates(app.extensions["intake.db"])
    return app


def test_a_submission_and_its_delivery_log_json_with_ids_and_nothing_personal(
    json_app: Flask, output: io.StringIO
) -> None:
    response = post(json_app, "req-0123456789abcdef")
    assert response.status_code == 201
    assert response.headers["X-Request-ID"] == "req-0123456789abcdef"
    lead_id = response.get_json()["lead_id"]
    request_lines = lines(output)

    with json_app.app_context():
        tasks.process_lead(lead_id)
        with json_app.extensions["intake.db"].session() as session:
            due = session.scalars(
                select(Message.id).where(Message.lead_id == uuid.UUID(lead_id))
            ).all()
        assert due
        for message_id in due:
            tasks.deliver(message_id)
    task_lines = lines(output)[len(request_lines) :]

    accepted = [line for line in request_lines if "accepted submission" in line["message"]]
    assert len(accepted) == 1
    assert accepted[0]["request_id"] == "req-0123456789abcdef"
    assert accepted[0]["lead_id"] == lead_id
    assert {"time", "level", "logger", "message"} <= set(accepted[0])

    processed = [line for line in task_lines if "processed" in line["message"]]
    assert processed and all(line["lead_id"] == lead_id for line in processed)
    sent = [line for line in task_lines if " sent via " in line["message"]]
    assert len(sent) == len(due)
    assert all(line["lead_id"] == lead_id and line["message_id"] in due for line in sent)
    # A task's ids end with it: no line from the request carries a message id, and the tasks'
    # lines carry no request id.
    assert all("request_id" not in line for line in task_lines)

    text = output.getvalue()
    for personal in PERSONAL:
        assert personal not in text, personal


@pytest.mark.parametrize("incoming", [None, "has spaces in it", "x" * 65, "short", "a@b.example"])
def test_an_insane_or_missing_request_id_is_replaced(json_app: Flask, incoming: str | None) -> None:
    response = json_app.test_client().get("/healthz", headers={"X-Request-ID": incoming or ""})
    given = response.headers["X-Request-ID"]
    assert given != incoming
    assert len(given) == 32 and int(given, 16) >= 0


def test_an_exception_is_logged_by_type_and_place_never_its_message(
    json_app: Flask, output: io.StringIO
) -> None:
    try:
        raise ValueError(f"duplicate key value ({EMAIL})")
    except ValueError:
        logging.getLogger("intake_service.test").exception("storing failed")
    (line,) = lines(output)
    assert line["exc_type"] == "ValueError"
    assert any("test_logs.py" in frame for frame in line["exc_trace"])
    assert EMAIL not in output.getvalue()


def test_plain_lines_carry_the_ids_too(make_app: Callable[..., Flask], output: io.StringIO) -> None:
    make_app(LOG_FORMAT="plain")
    with logs.task_scope(lead="0b7e5c1e-0000-4000-8000-000000000001", message=7):
        logging.getLogger("intake_service.test").info("message 7 sent via email")
    text = output.getvalue()
    assert "[lead_id=0b7e5c1e-0000-4000-8000-000000000001 message_id=7]" in text
    assert not text.lstrip().startswith("{")
