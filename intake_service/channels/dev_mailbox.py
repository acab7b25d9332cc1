"""The embedded default's provider: mail and texts are stored (encrypted) instead of sent."""

from __future__ import annotations

import datetime as dt
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from intake_service.channels import CHANNEL_KINDS, OutgoingMessage, TransientError
from intake_service.channels.email import message_id_header
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.models.dev_mailbox import DevMailboxEntry


class DevMailboxChannel:
    def __init__(self, kind: str, settings: Settings, db: Database) -> None:
        if kind not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel kind {kind!r}")
        self.kind = kind
        self._settings = settings
        self._db = db

    def send(self, message: OutgoingMessage) -> str:
        """Store the message as a DevMailboxEntry; return its provider id. Raises TransientError."""
        provider_id = f"dev-{uuid4().hex}"
        headers = dict(message.headers)
        if self.kind == "email":
            sender = self._settings.mail_from
            # The same Message-ID the SMTP channel would send, so both sinks look alike.
            headers["Message-ID"] = message_id_header(message.message_id, sender)
        else:
            sender = self._settings.clinic_phone
        entry = DevMailboxEntry(
            channel=self.kind,
            provider_id=provider_id,
            sender=sender,
            recipient=message.recipient,
            subject=message.subject,
            body_text=message.body_text,
            body_html=message.body_html,
            headers=headers,
        )
        try:
            # Its own transaction, as a provider's API call would be: independent of the caller's.
            with self._db.transaction() as session:
                session.add(entry)
        except OperationalError:
            # SQLite busy or the database unreachable: the send may work in a moment.
            raise TransientError("dev_mailbox_unavailable") from None
        return provider_id

    def find_existing(self, message: OutgoingMessage, since: dt.datetime) -> str | None:
        """The provider id of an entry with this recipient and body stored since `since`."""
        with self._db.session() as session:
            entries = session.scalars(
                select(DevMailboxEntry).where(
                    DevMailboxEntry.channel == self.kind,
                    DevMailboxEntry.recipient == message.recipient,
                    DevMailboxEntry.created_at >= since,
                )
            )
            # Bodies are encrypted at rest, so they are compared here rather than in SQL.
            for entry in entries:
                if entry.body_text == message.body_text and entry.subject == message.subject:
                    return entry.provider_id
        return None
