"""Twilio's side of a conversation, for tests: posts signed exactly as Twilio signs them (the
SDK's RequestValidator over the public URL and the form), and the worker's next steps."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask
from twilio.request_validator import RequestValidator

from intake_service.domain.outreach import delivery, scheduler
from intake_service.models import Message, MessageStatus
from tests.domain.builders import database, settings_of

PUBLIC = "https://intake.sunrise.example"
CLINIC_NUMBER = "+13105550100"
SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"


def signature(app: Flask, url: str, params: dict[str, str]) -> str:
    token = settings_of(app).twilio_auth_token
    assert token is not None
    return str(RequestValidator(token).compute_signature(url, params))


def post_signed(
    app: Flask,
    path: str,
    params: dict[str, str],
    *,
    signed_for: str | None = None,
    header: str | bool | None = True,
) -> Any:
    """POST a form as Twilio would: signed for PUBLIC + path unless `signed_for` says otherwise.

    `header=False` sends no signature; a string sends that one instead.
    """
    headers = {}
    if header is True:
        headers["X-Twilio-Signature"] = signature(app, signed_for or PUBLIC + path, params)
    elif isinstance(header, str):
        headers["X-Twilio-Signature"] = header
    return app.test_client().post(path, data=params, headers=headers)


def inbound_params(app: Flask, body: str, sender: str, sid: str | None = None) -> dict[str, str]:
    """The form Twilio posts for an inbound text."""
    sid = sid or "SM" + secrets.token_hex(16)
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "LOS ANGELES",
        "FromZip": "90012",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "LOS ANGELES",
        "Body": body,
        "FromCountry": "US",
        "To": CLINIC_NUMBER,
        "ToZip": "90001",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": settings_of(app).twilio.account_sid,  # type: ignore[union-attr]
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


def text_in(app: Flask, body: str, sender: str, sid: str | None = None) -> Any:
    """The patient texts `body` to the clinic: Twilio posts the signed inbound webhook."""
    return post_signed(app, SMS_PATH, inbound_params(app, body, sender, sid))


def status_params(
    app: Flask, sid: str, status: str, error_code: int | None = None
) -> dict[str, str]:
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": settings_of(app).twilio.account_sid,  # type: ignore[union-attr]
        "From": CLINIC_NUMBER,
        "To": "+12133734253",
        "ApiVersion": "2010-04-01",
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params


def report(app: Flask, sid: str, status: str, error_code: int | None = None) -> Any:
    """Twilio reports a status for `sid`."""
    return post_signed(app, STATUS_PATH, status_params(app, sid, status, error_code))


def run_worker(app: Flask) -> dict[int, delivery.Outcome]:
    """What the beat and the workers do next: claim due messages and deliver every queued one."""
    db, settings = database(app), settings_of(app)
    scheduler.claim_due(db, settings.delivery)
    with db.session() as session:
        queued = list(
            session.scalars(
                sa.select(Message.id)
                .where(Message.status == MessageStatus.QUEUED)
                .order_by(Message.id)
            )
        )
    return {i: delivery.deliver(db, settings, i) for i in queued}


def lead_messages(app: Flask, lead_id: uuid.UUID) -> list[Message]:
    with database(app).session() as session:
        return list(
            session.scalars(
                sa.select(Message).where(Message.lead_id == lead_id).order_by(Message.id)
            )
        )
