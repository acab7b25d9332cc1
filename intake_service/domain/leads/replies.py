"""Two-way texts: a patient's reply goes on the lead's timeline, stops the drip, and reaches the
lead's assignee (or the team) at once; a reply naming a time becomes (or moves) the lead's
callback request; a reply in crisis language makes the lead urgent and pages the on-call
clinician.

The notice is an email in the lead's own message plan (one message per reply), which carries
who replied and when they asked to be called, never the words: those stay encrypted on the
lead page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.domain.clinic_settings import effective_timezone
from intake_service.domain.compliance.quiet_hours import recipient_of
from intake_service.domain.leads import callback_requests, callback_times, status
from intake_service.domain.outreach import sequences, urgent
from intake_service.models import InboundMessage, Lead, Message, User

TEAM_TEMPLATE = "team_patient_replied"


@dataclass(frozen=True)
class Reply:
    """One inbound text as the lead's timeline and the staff inbox show it."""

    id: int
    received_at: dt.datetime
    from_number: str
    body: str
    kind: str
    lead_id: uuid.UUID | None
    auto_reply: str | None = None  # which automatic answer went back, if any
    # A crisis text from a number no lead gave pages on-call until someone takes it.
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None


def patient_zone(session: Session, phone: str, settings: Settings) -> str:
    """The zone a patient reads times in: their number's, or the clinic's (as the admin set it)."""
    return recipient_of(phone, effective_timezone(session, settings)).zones[0]


def attach(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    leads: list[Lead],
    in_crisis: bool = False,
) -> str:
    """Act on a reply from a known number (not committed): stop every lead's drip; a reply in
    crisis makes the newest lead urgent (on-call paged); a time named becomes its callback
    request; its assignee or the team is told. Returns the inbound's kind: "crisis",
    "callback" or "reply".
    """
    newest, now = leads[0], inbound.received_at
    if in_crisis:
        for lead in leads:
            sequences.stop(session, lead.id, "urgent", now)
        newest.urgent, newest.priority = True, "urgent"
        # On-call is paged (and the whole team at the next round until someone acknowledges);
        # the assignee or the team hears at once too, marked urgent.
        urgent.start(session, newest, settings, now)
        notify(session, settings, newest, f"reply-{inbound.id}", now)
        return "crisis"
    zone = patient_zone(session, inbound.from_number, settings)
    ask = callback_times.parse(inbound.body, now, zone)
    for lead in leads:
        if ask is not None:
            status.callback_requested(session, lead.id, now)
        else:
            status.patient_replied(session, lead.id, now)
    if ask is not None:
        callback_requests.request_callback(session, newest, ask, now)
    notify(session, settings, newest, f"reply-{inbound.id}", now)
    return "callback" if ask is not None else "reply"


def notify(
    session: Session, settings: Settings, lead: Lead, step_key: str, now: dt.datetime
) -> list[Message]:
    """Plan the "patient replied" email to the lead's assignee, or to the team when nobody has
    the lead (not committed). `step_key` is unique per reply, so each reply is told once.
    """
    assignee = session.get(User, lead.assignee_id) if lead.assignee_id else None
    if assignee is None or not assignee.active:
        step = sequences.Step(step_key, "team", "email", TEAM_TEMPLATE)
        return sequences.plan(session, lead, [step], settings, now)
    plan_key = sequences.plan_key_for(step_key, "team", "email", assignee.email)
    if session.scalar(
        select(Message.id).where(Message.lead_id == lead.id, Message.plan_key == plan_key)
    ):
        return []
    message = Message(
        lead_id=lead.id,
        plan_key=plan_key,
        step_key=step_key,
        audience="team",
        channel="email",
        template_key=TEAM_TEMPLATE,
        recipient=assignee.email,
        due_at=now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return [message]


def _as_reply(row: InboundMessage) -> Reply:
    return Reply(
        row.id,
        row.received_at,
        row.from_number,
        row.body,
        row.kind,
        row.lead_id,
        row.auto_reply,
        row.acknowledged_at,
        row.acknowledged_by,
    )


def for_lead(session: Session, lead_id: uuid.UUID) -> list[Reply]:
    """Every text the lead sent, oldest first, for the lead's timeline."""
    rows = session.scalars(
        select(InboundMessage)
        .where(InboundMessage.lead_id == lead_id)
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    return [_as_reply(row) for row in rows]


def from_unknown_numbers(session: Session, limit: int = 100) -> list[Reply]:
    """Texts from numbers no lead gave, newest first: kept for staff to read, never dropped."""
    rows = session.scalars(
        select(InboundMessage)
        .where(InboundMessage.lead_id.is_(None))
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(limit)
    )
    return [_as_reply(row) for row in rows]


def unknown_number_text(session: Session, inbound_id: int) -> Reply | None:
    """One text from a number no lead gave, or None (no such text, or a lead's)."""
    row = session.get(InboundMessage, inbound_id)
    return _as_reply(row) if row is not None and row.lead_id is None else None
