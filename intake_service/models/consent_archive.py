"""The consent ledger of deleted leads, kept as proof after everything else about them is gone.

A patient may ask to be deleted; the law still lets (and the TCPA defence needs) the clinic keep
proof that a number agreed to texts, or said STOP, and when. So deleting a lead copies its
consent lines here first: the wording, time, IP and user agent, and the one contact point each
line was about. Nothing else of the lead survives, and no foreign key ties these rows to it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow


class ArchivedConsent(Base):
    __tablename__ = "consent_archive"

    id: Mapped[int] = mapped_column(primary_key=True)
    archived_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lead_id: Mapped[uuid.UUID] = mapped_column(index=True)  # of the deleted lead; no foreign key
    channel: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[dt.datetime]
    wording_version: Mapped[str] = mapped_column(String(40))
    wording: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    # The phone (E.164) or email the line was about, and its blind-index hash for lookups.
    contact: Mapped[str | None] = mapped_column(String(320))
    contact_hash: Mapped[str | None] = mapped_column(String(64), index=True)
