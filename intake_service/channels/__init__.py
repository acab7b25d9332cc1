"""Channels: one small interface in front of every way a message leaves the service.

`get_channel(kind, settings, db)` picks the implementation from configuration: SMTP when
SMTP_URL is set, Twilio when TWILIO_* is set, the dev mailbox otherwise, and a refusing channel
for a kind the deployment switched off (SMS_ENABLED=false). Code outside this package never asks
which implementation it holds, nor which kind it is: what differs between kinds (how a message is
named, which kind may carry it instead) is in KINDS. Provider error codes are translated here,
into TransientError (try again later) or PermanentError (do not try this again), and a
PermanentError says when the recipient's address itself can never be used.
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


@dataclass(frozen=True)
class Kind:
    """What differs between kinds of message, for code that must not ask which kind it has."""

    name: str
    label: str  # what a person calls one message of this kind
    contact_point: str  # what it is sent to, in words
    fallback: str | None  # the kind that may carry a patient's message this one cannot
    # The column of a lead or a staff account that holds this kind's address.
    address_field: str = "email"
    # An email has a subject line (and an HTML part); a text is one plain body.
    has_subject: bool = False
    # Shown on a lock screen as it arrives: no clinical detail may ever be in it.
    shown_on_lock_screen: bool = False
    # The team's addresses (TEAM_EMAILS, queues) can receive it.
    reaches_team: bool = False
    # Each message is billed to a phone number: the target of SMS pumping (toll fraud).
    tolled: bool = False
    # Billed per segment (channels/segments.py): its length is counted and kept short.
    billed_by_segments: bool = False
    # The provider posts delivery reports to a callback address sent with each message.
    reports_delivery: bool = False
    # The person opts out by replying a keyword (STOP), which blocks the address itself.
    keyword_opt_outs: bool = False
    # Carries List-Unsubscribe headers (RFC 8058) to patients.
    unsubscribe_headers: bool = False
    # Reaches a phone in the person's hand: held to the recipient's local hours (TCPA, state
    # laws); an email waits in the inbox and needs no window.
    quiet_hours: bool = False
    # Carriers throttle each sending number (a long code takes about one a second), so sends
    # are paced to SMS_RATE_PER_SECOND (channels/pacing.py).
    paced_per_sender: bool = False


KINDS: dict[str, Kind] = {
    "email": Kind(
        "email",
        label="email",
        contact_point="email address",
        fallback="sms",
        address_field="email",
        has_subject=True,
        reaches_team=True,
        unsubscribe_headers=True,
    ),
    "sms": Kind(
        "sms",
        label="text",
        contact_point="phone number",
        fallback="email",
        address_field="phone",
        shown_on_lock_screen=True,
        tolled=True,
        quiet_hours=True,
        paced_per_sender=True,
        billed_by_segments=True,
        reports_delivery=True,
        keyword_opt_outs=True,
    ),
}
CHANNEL_KINDS = tuple(KINDS)
TOLLED_KINDS = tuple(name for name, k in KINDS.items() if k.tolled)
PACED_KINDS = tuple(name for name, k in KINDS.items() if k.paced_per_sender)


def kind(name: str) -> Kind:
    """The kind called `name`; raises ValueError for one the service does not have."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown channel kind {name!r}") from None


def enabled(name: str, settings: Settings) -> bool:
    """False when the deployment switched this kind of message off: nothing is planned on it."""
    kind(name)
    # Texting can be off (SMS_ENABLED=false: no Twilio account yet); email always runs.
    return settings.sms_enabled if name == "sms" else True


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
    """Worth trying again later (connection refused, timeout, 4xx from SMTP, 429/5xx).

    `maybe_sent` says the request reached the provider and no answer came back (a read
    timeout, a connection cut mid-answer, a server error): the provider may have taken the
    message, so the next try must ask it (find_existing) before sending again.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        retry_after: float | None = None,
        *,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(reason, detail)
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


@dataclass(frozen=True)
class Unusable:
    """The recipient's address can never take this kind of message, and why."""

    status: str  # kept on the lead: "invalid_number", "opted_out", "rejected", ...
    # The person told the provider to stop (Twilio 21610): a consent event, not just a bad address.
    opted_out: bool = False


class PermanentError(ChannelError):
    """Sending this message to this recipient will never work (invalid number, opted out...).

    `unusable` is set when the address itself is dead, so nothing more should go there; it is
    None when only this message is refused (its content, our sender, our account).
    """

    def __init__(self, reason: str, detail: str = "", unusable: Unusable | None = None) -> None:
        super().__init__(reason, detail)
        self.unusable = unusable


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


class SwitchedOffChannel:
    """A kind the deployment switched off: every send is refused, and nothing is looked up.

    Only messages planned before the switch reach it; they fail visibly (and fall back to the
    other kind) rather than landing in the dev mailbox as if they had been sent.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def send(self, message: OutgoingMessage) -> str:
        raise PermanentError("channel_off", f"{self.kind} is switched off in the settings")

    def find_existing(self, message: OutgoingMessage, since: dt.datetime) -> str | None:
        return None


def _configured_channel(name: str, settings: Settings, db: Database) -> Channel:
    """The channel configured for the kind `name` ("email" or "sms"); raises ValueError."""
    from intake_service.channels.dev_mailbox import DevMailboxChannel

    kind(name)
    if not enabled(name, settings):
        return SwitchedOffChannel(name)
    if name == "email":
        if settings.smtp is None:
            return DevMailboxChannel("email", settings, db)
        from intake_service.channels.email import SmtpChannel

        return SmtpChannel(settings.smtp, settings)
    if settings.twilio is None:
        return DevMailboxChannel("sms", settings, db)
    from intake_service.channels.sms import channel_for

    return channel_for(settings.twilio)


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


def get_channel(name: str, settings: Settings, db: Database) -> Channel:
    """The channel configured for the kind `name`, behind the app's wrapper when one is set."""
    channel = _configured_channel(name, settings, db)
    wrapper = _wrappers.get(db)
    return channel if wrapper is None else wrapper(channel)
