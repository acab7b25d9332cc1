"""Channels: one small interface in front of every way a message leaves the service.

`get_channel(kind, settings, db)` picks the implementation from configuration: SMTP when
SMTP_URL is set, Twilio when TWILIO_* is set, the dev mailbox otherwise. Code outside this package
never asks which implementation it holds; provider error codes are translated here, into
TransientError (try again later) or PermanentError (do not try this again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from intake_service.config import Settings
    from intake_service.db import Database

CHANNEL_KINDS = ("email", "sms")


@dataclass(frozen=True)
class OutgoingMessage:
    """Everything a channel needs to send one message, and nothing from the database."""

    message_id: int  # our Message.id: stable across retries (Message-ID header, dedupe)
    channel: str  # "email" | "sms"
    recipient: str  # email address or E.164 phone
    body_text: str
    subject: str | None = None  # email only
    body_html: str | None = None  # email only
    headers: Mapping[str, str] = field(default_factory=dict)  # extra email headers
    status_callback: str | None = None  # sms: where the provider reports delivery


class ChannelError(Exception):
    """A send did not succeed. `reason` is a short code fit for the ledger and metrics."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class TransientError(ChannelError):
    """Worth trying again later (connection refused, timeout, 4xx from SMTP, 429/5xx)."""

    def __init__(self, reason: str, detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(reason, detail)
        self.retry_after = retry_after


class PermanentError(ChannelError):
    """Sending this message to this recipient will never work (invalid number, opted out...)."""


class Channel(Protocol):
    kind: str

    def send(self, message: OutgoingMessage) -> str:
        """Send the message; return the provider's id. Raises TransientError or PermanentError."""
        ...

    def find_existing(self, message: OutgoingMessage, since: dt.datetime) -> str | None:
        """The provider's id of this very message if it already took it since `since`, else None.

        Asked before resending a message whose worker died mid-send. Raises TransientError.
        """
        ...


def _configured_channel(kind: str, settings: Settings, db: Database) -> Channel:
    """The channel configured for `kind` ("email" or "sms")."""
    from intake_service.channels.dev_mailbox import DevMailboxChannel

    if kind == "email":
        if settings.smtp is None:
            return DevMailboxChannel("email", settings, db)
        from intake_service.channels.email import SmtpChannel

        return SmtpChannel(settings.smtp, settings)
    if kind == "sms":
        if settings.twilio is None:
            return DevMailboxChannel("sms", settings, db)
        from intake_service.channels.sms import TwilioChannel

        return TwilioChannel(settings.twilio)
    raise ValueError(f"unknown channel kind {kind!r}")


ChannelWrapper = Callable[[Channel], Channel]

# What tests stand in front of the configured channels (a worker killed right after the
# provider answered, a second worker arriving mid-send) without patching delivery's insides.
# Keyed by the app's Database, so it belongs to one app, not the process; production sets none.
_wrappers: WeakKeyDictionary[Database, ChannelWrapper] = WeakKeyDictionary()


def wrap_channels(db: Database, wrapper: ChannelWrapper | None) -> None:
    """Put `wrapper` around every channel get_channel returns for this app (None removes it)."""
    if wrapper is None:
        _wrappers.pop(db, None)
    else:
        _wrappers[db] = wrapper


def get_channel(kind: str, settings: Settings, db: Database) -> Channel:
    """The channel configured for `kind`, behind the app's wrapper when one is set."""
    channel = _configured_channel(kind, settings, db)
    wrapper = _wrappers.get(db)
    return channel if wrapper is None else wrapper(channel)
