"""Twilio's webhooks: inbound texts (answered with TwiML) and delivery status callbacks.

Every request must carry a valid X-Twilio-Signature for PUBLIC_BASE_URL plus the path and query
it was sent to; anything else gets 403 before its form is looked at, and changes nothing.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from twilio.twiml.messaging_response import MessagingResponse

from intake_service.config import Settings
from intake_service.db import get_db
from intake_service.domain.outreach import inbound, status_callbacks
from intake_service.domain.outreach.delivery_reports import RANK
from intake_service.security import twilio_signatures
from intake_service.web.errors import error_response

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")
# E.164, a short code, or a channel address such as whatsapp:+1...
_ADDRESS = re.compile(r"^[A-Za-z0-9+:._@-]{1,32}$")
MAX_BODY_CHARS = 4000  # Twilio's limit is 1,600; anything much longer did not come from it


def _settings() -> Settings:
    settings: Settings = current_app.extensions["intake.settings"]
    return settings


@bp.before_request
def signed_by_twilio() -> ResponseReturnValue | None:
    settings = _settings()
    url = twilio_signatures.signed_url(
        settings.public_base_url, request.path, request.query_string.decode("utf-8", "replace")
    )
    signature = request.headers.get(twilio_signatures.SIGNATURE_HEADER)
    if not twilio_signatures.is_valid(settings.twilio_auth_token, url, request.form, signature):
        log.warning("webhook %s refused: signature missing or not valid for it", request.path)
        return error_response(403, "This request is not signed by Twilio for this address.")
    return None


def _field(name: str, pattern: re.Pattern[str]) -> str | None:
    value = request.form.get(name, "").strip()
    return value if pattern.match(value) else None


def _twiml(text: str | None) -> Response:
    answer = MessagingResponse()
    if text:
        answer.message(text)
    return Response(str(answer), mimetype="application/xml")


@bp.post("/twilio/sms")
def inbound_sms() -> ResponseReturnValue:
    sid = _field("MessageSid", _SID)
    sender = _field("From", _ADDRESS)
    recipient = _field("To", _ADDRESS) or ""
    body = request.form.get("Body", "")
    if sid is None or sender is None:
        return error_response(400, "MessageSid and From are required.")
    if len(body) > MAX_BODY_CHARS or "\x00" in body:
        return error_response(400, "The message body is not a text message.")
    segments = request.form.get("NumSegments", "")
    sms = inbound.InboundSms(
        provider_id=sid,
        from_number=sender,
        to_number=recipient,
        body=body,
        segments=int(segments) if segments.isdigit() else None,
    )
    answer = inbound.receive(get_db(), _settings(), sms)
    return _twiml(answer.text)


@bp.post("/twilio/status")
def status_callback() -> ResponseReturnValue:
    sid = _field("MessageSid", _SID)
    status = request.form.get("MessageStatus", "").strip().lower()
    code = request.form.get("ErrorCode", "").strip()
    if sid is None or not status:
        return error_response(400, "MessageSid and MessageStatus are required.")
    if code and not code.isdigit():
        return error_response(400, "ErrorCode must be a number.")
    if status not in RANK:
        # A status Twilio added after this was written: nothing to do with it, nothing lost.
        log.info("status callback with unknown status ignored")
        return Response(status=204)
    report = status_callbacks.StatusReport(sid, status, int(code) if code else None)
    status_callbacks.receive(get_db(), _settings(), report)
    return Response(status=204)
