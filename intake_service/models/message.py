"""One planned or sent email or text, and the state machine it moves through."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake_service.db import Base, utcnow
from intake_service.security.encryption import EncryptedText


class MessageStatus(enum.StrEnum):
    PLANNED = "planned"  # a row with a due time; nothing handed to a worker yet
    QUEUED = "queued"  # its id is on the broker
    SENDING = "sending"  # a worker has claimed it and is talking to the provider
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider reports it reached the handset or mailbox
    FAILED = "failed"  # gave up: permanent error or retries exhausted
    UNDELIVERED = "undelivered"  # accepted, then the carrier could not deliver it
    SUPPRESSED = "suppressed"  # not sent on purpose (no consent, opted out, lead closed)
    CANCELLED = "cancelled"  # a planned step no longer wanted (the sequence stopped)


S = MessageStatus
TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    S.PLANNED: frozenset({S.QUEUED, S.SENDING, S.SUPPRESSED, S.CANCELLED}),
    S.QUEUED: frozenset({S.PLANNED, S.SENDING, S.SUPPRESSED, S.CANCELLED}),
    # Back to PLANNED is a transient failure waiting for its retry time; back to QUEUED is a
    # message whose worker died mid-send, to be reconciled with the provider.
    S.SENDING: frozenset({S.SENT, S.FAILED, S.PLANNED, S.QUEUED, S.SUPPRESSED, S.CANCELLED}),
    S.SENT: frozenset({S.DELIVERED, S.UNDELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset({S.PLANNED}),  # an operator's retry
    S.UNDELIVERED: frozenset(),
    S.SUPPRESSED: frozenset(),
    S.CANCELLED: frozenset(),
}


def can_move_to(target: MessageStatus) -> tuple[MessageStatus, ...]:
    """The statuses a message may move to `target` from, for a bulk UPDATE's WHERE clause."""
    return tuple(source for source, targets in TRANSITIONS.items() if target in targets)


# A message or an urgent page is about a lead or about an inbound text.
ABOUT = "lead_id IS NOT NULL OR inbound_message_id IS NOT NULL"


class InvalidTransition(Exception):
    """A status change the message's state machine does not allow."""


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Planning is idempotent: a lead gets one message per step, channel and recipient.
        UniqueConstraint("lead_id", "plan_key", name="uq_messages_lead_id_plan_key"),
        # and a text from an unknown number one page per round, channel and recipient.
        UniqueConstraint(
            "inbound_message_id", "plan_key", name="uq_messages_inbound_message_id_plan_key"
        ),
        CheckConstraint(ABOUT, name="about"),
        Index("ix_messages_status_due_at", "status", "due_at"),
        # The per-number daily cap on texts counts one recipient's recent messages.
        Index("ix_messages_recipient_created_at", "recipient", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Whom the message is about: a lead, or (for a page about a text from a number no lead
    # gave) that inbound text, never neither.
    lead_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="CASCADE"), index=True
    )
    # "<step>[:<occasion>]:<audience>:<channel>:<recipient>": room for a 320-character address.
    plan_key: Mapped[str] = mapped_column(String(500))
    step_key: Mapped[str] = mapped_column(String(40))  # the sequence step: "first", "day1", ...
    audience: Mapped[str] = mapped_column(String(10))  # "team" | "patient"
    channel: Mapped[str] = mapped_column(String(10))  # "email" | "sms"
    template_key: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.PLANNED)
    due_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)  # every claim ever; also the claim token
    retry_base: Mapped[int] = mapped_column(default=0)  # attempts when an operator last retried
    last_error: Mapped[str | None] = mapped_column(Text)
    # A Twilio SID, or an email's Message-ID, which carries MAIL_FROM's domain (up to 253).
    provider_id: Mapped[str | None] = mapped_column(String(320), index=True)
    template_version_id: Mapped[int | None] = mapped_column(ForeignKey("template_versions.id"))
    # What was sent, kept for the lead's timeline; names are personal data, so encrypted.
    subject: Mapped[str | None] = mapped_column(EncryptedText)
    body_text: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    queued_at: Mapped[dt.datetime | None]
    sending_started_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    failed_at: Mapped[dt.datetime | None]
    # Set when a worker died while this message was `sending`: before any resend, ask the
    # provider whether it already has it.
    needs_reconcile: Mapped[bool] = mapped_column(default=False)
    # The worker process (worker_heartbeats.id) that claimed it for sending, if it keeps a
    # heartbeat: a `sending` message whose holder stopped beating is taken over at once.
    held_by: Mapped[str | None] = mapped_column(String(32))
    dismissed_at: Mapped[dt.datetime | None]  # a dead letter an operator has looked at and closed
    # What the provider last reported (Twilio: queued, sent, delivered, undelivered, failed...)
    # and its error code: `status` says "sent" on acceptance, only a report says "delivered".
    provider_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[int | None]
    # A text's billed length, recorded when it is rendered (channels/segments.py).
    segments: Mapped[int | None]
    encoding: Mapped[str | None] = mapped_column(String(10))  # "GSM-7" | "UCS-2"

    def transition(self, new: MessageStatus) -> None:
        """Move to `new`; raises InvalidTransition if the state machine forbids it."""
        current = MessageStatus(self.status)
        if new not in TRANSITIONS[current]:
            raise InvalidTransition(f"message {self.id}: {current} -> {new} is not allowed")
        self.status = new


class DeliveryAttempt(Base):
    """One try at sending a message: the history behind its final state."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # "sent" | "adopted" (found at the provider after a crash) | "transient" | "permanent" |
    # "suppressed" | "cancelled" | "deferred" (the contact policy said later) |
    # "abandoned" (its worker died; reconciled later) | "maybe_sent" (a transient failure after
    # the request reached the provider, such as a read timeout; reconciled before the next try)
    outcome: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(320))  # as the message's
