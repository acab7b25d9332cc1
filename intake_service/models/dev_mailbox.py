"""The dev mailbox: where mail and texts go when no SMTP server or Twilio account is set."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow
from intake_service.security.encryption import EncryptedText


class DevMailboxEntry(Base):
    __tablename__ = "dev_mailbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(10))
    provider_id: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(EncryptedText)
    body_text: Mapped[str] = mapped_column(EncryptedText)
    body_html: Mapped[str | None] = mapped_column(EncryptedText)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
