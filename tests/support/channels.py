"""A channel in front of the configured one, for what happens around a send.

`intercepted(db, before=..., after=...)` stands an `InterceptedChannel` in front of every
channel the app picks (through `channels.wrap_channels`, the way production picks them): the
real channel still sends, to the Twilio stand-in, the SMTP server or the dev mailbox, and the
hooks run just before or just after. A hook raising `WorkerKilled` after the send leaves the
database exactly as a kill -9 between the provider's answer and our record of it would; a
hook can also let another worker run, or make the provider's answer a late failure.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from intake_service.channels import Channel, OutgoingMessage, wrap_channels
from intake_service.db import Database

Hook = Callable[[OutgoingMessage], None]


class WorkerKilled(Exception):
    """Stands for kill -9: nothing after the point where it is raised runs."""


def kill(message: OutgoingMessage) -> NoReturn:
    raise WorkerKilled(f"worker killed while sending message {message.message_id}")


class Interception:
    """What happens around the next `times` sends through an app's channels."""

    def __init__(self, before: Hook | None, after: Hook | None, times: int) -> None:
        self.before = before
        self.after = after
        self.remaining = times
        self.sent: list[str] = []  # provider ids the real channel returned, in order
        self._lock = threading.Lock()

    def take(self) -> bool:
        """True if this send is one to intercept (and counts it)."""
        with self._lock:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            return True

    def __call__(self, channel: Channel) -> Channel:
        return InterceptedChannel(channel, self)


class InterceptedChannel:
    """The configured channel, with the interception's hooks around its send."""

    def __init__(self, inner: Channel, interception: Interception) -> None:
        self._inner = inner
        self._interception = interception
        self.kind = inner.kind

    def send(self, message: OutgoingMessage) -> str:
        armed = self._interception.take()
        if armed and self._interception.before is not None:
            self._interception.before(message)
        provider_id = self._inner.send(message)
        self._interception.sent.append(provider_id)
        if armed and self._interception.after is not None:
            self._interception.after(message)
        return provider_id

    def find_existing(self, message: OutgoingMessage, since: dt.datetime) -> str | None:
        return self._inner.find_existing(message, since)


@contextmanager
def intercepted(
    db: Database, before: Hook | None = None, after: Hook | None = None, times: int = 1
) -> Iterator[Interception]:
    """Run `before`/`after` around the app's next `times` sends, for the length of the block."""
    interception = Interception(before, after, times)
    wrap_channels(db, interception)
    try:
        yield interception
    finally:
        wrap_channels(db, None)
