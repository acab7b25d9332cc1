"""A lead (a person who asked) and the submissions (form posts) that brought it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake_service.db import Base, utcnow
from intake_service.security.encryption import EncryptedJSON, EncryptedText

if TYPE_CHECKING:
    from intake_service.models.consent import ConsentEvent
    from intake_service.models.triage import Triage
    from intake_service.models.user import User

FORMS = ("contact", "tms_screen", "phq9", "gad7")
TREATMENTS = ("ketamine", "spravato", "tms", "psychiatry", "unsure")
CALLBACK_WINDOWS = ("morning", "afternoon", "evening", "any")
LEAD_STATUSES = ("new", "contacted", "booked", "closed", "spam")
# Where each kind of message finds the lead: the address column and the provider's verdict on it.
_CONTACT_COLUMNS = {"email": ("email", "email_status"), "sms": ("phone", "phone_status")}


def _columns(channel: str) -> tuple[str, str]:
    try:
        return _CONTACT_COLUMNS[channel]
    except KeyError:
        raise ValueError(f"unknown channel kind {channel!r}") from None


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), default="")
    # Contact points stay searchable (STOP replies are matched by phone); health data is encrypted.
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    # Keyed hashes of phone and email (security/blind_index.py, set in models/lead_index.py):
    # duplicate checks, caps, STOP replies, delivery reports and staff search find a phone
    # through these, never through the column above.
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # The email as returning submissions and the per-contact cap match it, Gmail's dots and
    # +tags folded away (domain.intake.duplicates.email_key): a form no hash of the address has.
    email_key: Mapped[str | None] = mapped_column(String(320), index=True)
    callback_window: Mapped[str] = mapped_column(String(20), default="any")
    # The language of the pages the person used ("en", "es"): later messages to them use it.
    locale: Mapped[str] = mapped_column(String(10), default="en", server_default="en")
    treatment_interest: Mapped[str] = mapped_column(String(20), default="unsure")
    status: Mapped[str] = mapped_column(String(20), default="new")
    priority: Mapped[str | None] = mapped_column(String(20))  # set by triage
    urgent: Mapped[bool] = mapped_column(default=False)
    # A provider said this contact point cannot be used ("invalid_number", "opted_out", ...).
    phone_status: Mapped[str | None] = mapped_column(String(30))
    email_status: Mapped[str | None] = mapped_column(String(30))
    # The follow-up sequence stops for good once a person has taken over (or the patient said so).
    sequence_stopped_at: Mapped[dt.datetime | None]
    sequence_stop_reason: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Who owns the lead; set only by a compare-and-set claim or an explicit assignment.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[dt.datetime | None]
    # The queue routing sent it to (domain.leads.routing); None: the default team (TEAM_EMAILS).
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("routing_queues.id"), index=True)
    # An urgent lead stays at the top, and is paged again, until a person acknowledges it.
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    # Set when retention erased the health fields of this closed lead (answers, messages,
    # notes, triage); the lead and its consent ledger stay.
    health_erased_at: Mapped[dt.datetime | None]
    # Why intake stored this lead as spam (codes such as "honeypot", "links"); kept after un-spam.
    spam_reasons: Mapped[list[str] | None] = mapped_column(JSON)

    submissions: Mapped[list[Submission]] = relationship(
        back_populates="lead", order_by="Submission.created_at"
    )
    # The database sets lead_id to NULL when a lead is deleted: the ledger is kept as proof.
    consent_events: Mapped[list[ConsentEvent]] = relationship(
        back_populates="lead", order_by="ConsentEvent.occurred_at", passive_deletes=True
    )
    triage: Mapped[Triage | None] = relationship(back_populates="lead")
    assignee: Mapped[User | None] = relationship()

    def address(self, channel: str) -> str | None:
        """Where a message of this kind reaches the lead (email address or E.164 phone)."""
        value: str | None = getattr(self, _columns(channel)[0])
        return value

    def contact_status(self, channel: str) -> str | None:
        """Why a provider said this kind's address cannot be used, or None if it can."""
        value: str | None = getattr(self, _columns(channel)[1])
        return value

    def mark_unusable(self, channel: str, status: str) -> None:
        """Record a provider's verdict that this kind's address can never be used."""
        setattr(self, _columns(channel)[1], status)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_lead_id_created_at", "lead_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    form: Mapped[str] = mapped_column(String(20))
    via: Mapped[str] = mapped_column(String(10))  # "web" form or "api"
    answers: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    message: Mapped[str | None] = mapped_column(EncryptedText)
    # A client's Idempotency-Key (API) or the form's one-time token (double clicks).
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the normalised input
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)

    lead: Mapped[Lead] = relationship(back_populates="submissions")
