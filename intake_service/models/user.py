"""Staff accounts, and the sign-in attempts that lockout counts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow
from intake_service.security.encryption import EncryptedText

ROLES = ("admin", "clinician", "coordinator")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]
    # Bumped when the password changes or the account is disabled: sessions carry it, so an
    # old session stops working at once.
    session_version: Mapped[int] = mapped_column(default=1)
    # The person's own mobile (E.164), where an admin's test texts go; never a patient's.
    phone: Mapped[str | None] = mapped_column(String(20))
    # Optional second factor (RFC 6238 TOTP). The secret is encrypted at rest; the last time
    # step used is kept so a code seen over a shoulder cannot be replayed within its window.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_enabled_at: Mapped[dt.datetime | None]
    totp_last_step: Mapped[int | None]

    @property
    def label(self) -> str:
        return self.display_name or self.email.split("@", 1)[0]


class LoginAttempt(Base):
    """One try at signing in: lockout counts recent failures per account and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # As typed (lower-cased), whether or not an account has it: lockout must not reveal which
    # addresses are accounts.
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
