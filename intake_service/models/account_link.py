"""One-time links that let a person set a password: an invitation, or a reset by an admin."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow

PURPOSES = ("invite", "reset")


class AccountLink(Base):
    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only the SHA-256 of the token is kept: a copy of the database opens no account.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(10))  # "invite" | "reset"
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(20))  # invitations only
    display_name: Mapped[str] = mapped_column(String(100), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]  # a newer link for the same person replaced it
