"""Nobody left unclaimed: a lead not acted on in its time to first contact is escalated.

Each priority has a deadline (by default urgent 5 minutes, high an hour, the rest one business
day in the clinic's opening hours and time zone): clinic settings, the database over the
environment, read when the clock starts and at each rung. The clock is durable: Escalation
rows with a due time, swept by beat, never a Celery countdown (lost with the broker,
redelivered after Redis' visibility timeout).
Round 1 tells the lead's queue (email, and a text to the on-call phone for an urgent lead);
round 2 and later tell the queue's lead as well, and the ladder repeats until someone acts:
claims the lead, changes its status, or acknowledges an urgent page.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service import channels
from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain.clinic_hours import FirstContact, add_business_days
from intake_service.domain.clinic_settings import ClinicProfile, effective_clinic
from intake_service.domain.leads import routing
from intake_service.domain.outreach import sequences
from intake_service.models import Escalation, Lead, LeadEvent, Message, RoutingQueue

log = logging.getLogger(__name__)

TEMPLATE = "team_overdue"
ACTED_EVENTS = ("claimed", "status_changed", "assigned")


def time_to_first_contact(priority: str | None, limits: FirstContact) -> dt.timedelta | None:
    """The time a priority allows; None for "business day" priorities (see `deadline`)."""
    if priority == "urgent":
        return dt.timedelta(minutes=limits.urgent_minutes)
    if priority == "high":
        return dt.timedelta(minutes=limits.high_minutes)
    return None


def deadline(lead: Lead, clinic: ClinicProfile, start: dt.datetime | None = None) -> dt.datetime:
    """When the lead must have been acted on, from `start` (its arrival unless given), in the
    clinic's hours, zone and times to first contact as an admin set them (over the env's)."""
    start = start or lead.created_at
    limits = clinic.first_contact
    allowed = time_to_first_contact(lead.priority, limits)
    if allowed is not None:
        return start + allowed
    return add_business_days(start, clinic.opening_hours, clinic.zone, limits.normal_business_days)


def start(
    session: Session,
    lead: Lead,
    settings: Settings,
    now: dt.datetime,
    clinic: ClinicProfile | None = None,
) -> None:
    """Start the lead's clock: its first escalation, due at its deadline (not committed).
    `clinic`: the clinic settings, when the caller has read them already."""
    clinic = clinic or effective_clinic(session, settings)
    _schedule(session, lead.id, 1, deadline(lead, clinic), now)


def acted(session: Session, lead: Lead) -> bool:
    """True once a person took the lead: claimed, moved on from new, or acknowledged a page."""
    if lead.status != "new" or lead.acknowledged_at is not None:
        return True
    event = session.scalar(
        select(LeadEvent.id).where(LeadEvent.lead_id == lead.id, LeadEvent.kind.in_(ACTED_EVENTS))
    )
    return event is not None


def overdue(session: Session, lead_ids: list[uuid.UUID], now: dt.datetime) -> set[uuid.UUID]:
    """Which of these leads are past their time to first contact with nobody acting.

    The ladder's view: a claim ends it. The inbox reads the same deadline (round 1's due_at)
    but keeps showing a lead overdue until first real contact (domain/leads/inbox.py).
    """
    if not lead_ids:
        return set()
    late = set(
        session.scalars(
            select(Escalation.lead_id).where(
                Escalation.lead_id.in_(lead_ids),
                Escalation.done_at.is_(None),
                # Due now, or a later rung: the first deadline has already passed.
                (Escalation.due_at <= now) | (Escalation.round > 1),
            )
        )
    )
    return {
        i for i in late if (lead := session.get(Lead, i)) is not None and not acted(session, lead)
    }


def sweep(db: Database, settings: Settings, now: dt.datetime | None = None) -> int:
    """Escalate every lead whose escalation is due and nobody acted on. Commits.

    `now` decides which are due (tests pass a clock). Returns how many leads were escalated.
    """
    now = now or utcnow()
    escalated = 0
    with db.transaction() as session:
        clinic = effective_clinic(session, settings)
        due = session.scalars(
            select(Escalation)
            .where(Escalation.done_at.is_(None), Escalation.due_at <= now)
            .order_by(Escalation.due_at)
            .limit(100)
            .with_for_update(skip_locked=True)
        ).all()
        for row in due:
            lead = session.get(Lead, row.lead_id)
            row.done_at = now
            if lead is None or acted(session, lead):
                row.outcome = "acted"
                continue
            row.outcome = "escalated"
            _notify(session, lead, settings, row.round, now)
            again = deadline(lead, clinic, start=now)
            _schedule(session, lead.id, row.round + 1, again, now)
            escalated += 1
            log.warning("lead %s not acted on in time; escalation round %d", lead.id, row.round)
    return escalated


def _schedule(
    session: Session, lead_id: uuid.UUID, round_: int, due_at: dt.datetime, now: dt.datetime
) -> None:
    exists = session.scalar(
        select(Escalation.id).where(Escalation.lead_id == lead_id, Escalation.round == round_)
    )
    if exists is None:
        session.add(Escalation(lead_id=lead_id, round=round_, due_at=due_at, created_at=now))


def _recipients(
    session: Session, lead: Lead, settings: Settings, round_: int
) -> list[tuple[str, str]]:
    recipients = [("email", a) for a in routing.team_addresses(session, lead, settings)]
    if lead.urgent and settings.on_call_phone:
        recipients.append(("sms", settings.on_call_phone))
    if round_ >= 2:
        queue = session.get(RoutingQueue, lead.queue_id) if lead.queue_id else None
        head = queue.lead_user.email if queue and queue.lead_user else settings.on_call_email
        if head:
            recipients.append(("email", head))
    return recipients


def _notify(
    session: Session, lead: Lead, settings: Settings, round_: int, now: dt.datetime
) -> None:
    step_key = f"escalation{round_}"
    existing = set(session.scalars(select(Message.plan_key).where(Message.lead_id == lead.id)))
    for channel, recipient in dict.fromkeys(_recipients(session, lead, settings, round_)):
        if not channels.enabled(channel, settings):
            continue
        plan_key = sequences.plan_key_for(step_key, "team", channel, recipient)
        if plan_key in existing:
            continue
        existing.add(plan_key)
        session.add(
            Message(
                lead_id=lead.id,
                plan_key=plan_key,
                step_key=step_key,
                audience="team",
                channel=channel,
                template_key=TEMPLATE,
                recipient=recipient,
                due_at=now,
                created_at=now,
            )
        )
    session.flush()
