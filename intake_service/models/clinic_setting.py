"""Clinic settings an admin changed: each row overrides the environment's default for one key;
and the clinic's files for the public pages (the logo)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow


class ClinicSetting(Base):
    __tablename__ = "clinic_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ClinicAsset(Base):
    """A file the public pages show (key "logo"), checked by its content before it is stored."""

    __tablename__ = "clinic_assets"

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(40))  # from the bytes, never the upload
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256, hex: the file's address
    size: Mapped[int]
    # Deferred: the pages ask which logo is in force on every render, not for its bytes.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
