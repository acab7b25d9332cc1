"""What travels with a message besides its words: email headers, the text's status callback,
and the text's billed length recorded on the message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from intake_service.channels import kind
from intake_service.channels.segments import count_segments
from intake_service.config import Settings
from intake_service.domain.compliance import unsubscribe
from intake_service.models import Message

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
# Twilio cannot post to these; a development base URL gets no StatusCallback (Twilio would
# report each failed callback as an account error).
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104


def status_callback_url(settings: Settings) -> str | None:
    """Where Twilio reports a text's delivery: PUBLIC_BASE_URL + the status webhook."""
    host = (urlsplit(settings.public_base_url).hostname or "").lower()
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return None
    return settings.public_base_url + STATUS_CALLBACK_PATH


def patient_email_headers(message: Message, settings: Settings) -> dict[str, str]:
    """Reply-To the team, and RFC 8058 one-click unsubscribe (List-Unsubscribe-Post)."""
    if message.lead_id is None:
        raise ValueError(f"message {message.id} reaches a patient but is about no lead")
    return {
        "Reply-To": settings.reply_to,
        "List-Unsubscribe": f"<{unsubscribe.url_for(message.lead_id, settings)}>",
        "List-Unsubscribe-Post": unsubscribe.ONE_CLICK_BODY,
    }


def record_length(message: Message) -> None:
    """Store a rendered text's segment count and encoding on the message."""
    if kind(message.channel).billed_by_segments and message.body_text is not None:
        counted = count_segments(message.body_text)
        message.segments, message.encoding = counted.segments, counted.encoding


def extras(message: Message, settings: Settings) -> dict[str, Any]:
    """The OutgoingMessage fields beyond the words, for this message's channel and audience."""
    what = kind(message.channel)
    extra: dict[str, Any] = {}
    if what.reports_delivery:
        extra["status_callback"] = status_callback_url(settings)
    if what.unsubscribe_headers and message.audience == "patient":
        extra["headers"] = patient_email_headers(message, settings)
    return extra
