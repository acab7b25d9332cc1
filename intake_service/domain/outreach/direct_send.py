"""Messages with no lead and no Message row: an admin's test sends and account emails.

They go through the very channel patient messages use (channels.get_channel), so a test
proves the real path, but they never touch a lead's ledger, the scheduler or its retries: the
person who asked is waiting for the answer on the page.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from intake_service.channels import ChannelError, OutgoingMessage, get_channel
from intake_service.config import Settings
from intake_service.db import Database

log = logging.getLogger(__name__)


class DirectSendFailed(Exception):
    """The channel refused or could not take the message; `reason` is its short code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Direct:
    channel: str  # "email" | "sms"
    recipient: str
    body_text: str
    subject: str | None = None
    body_html: str | None = None
    headers: Mapping[str, str] | None = None


def send_now(db: Database, settings: Settings, message: Direct) -> str:
    """Send `message` at once; returns the provider's id. Raises DirectSendFailed.

    Call with no transaction open: the dev mailbox writes in its own, and on SQLite a held
    write lock would make it wait.
    """
    # No Message row, so no Message.id: a negative random id keeps the email's Message-ID
    # apart from every patient message's (channels/email.py builds it from this number).
    message_id = -(secrets.randbelow(2**62) + 1)
    outgoing = OutgoingMessage(
        message_id=message_id,
        channel=message.channel,
        recipient=message.recipient,
        body_text=message.body_text,
        subject=message.subject,
        body_html=message.body_html,
        headers=dict(message.headers or {}),
    )
    try:
        provider_id = get_channel(message.channel, settings, db).send(outgoing)
    except ChannelError as error:
        log.warning("direct %s send failed: %s", message.channel, error.reason)
        raise DirectSendFailed(error.reason) from None
    return provider_id
