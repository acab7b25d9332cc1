"""The urgent path: page the on-call clinician at once, and again until someone acknowledges.

A lead is urgent when its free text holds crisis language or its PHQ-9 item 9 is above 0.
It then gets no drip: the team an urgent email, the patient a reply written for this case
(988, 911, a clinician will call), and the on-call clinician a text and an email carrying no
health detail, only "Urgent lead: call now" and a signed link that acknowledges.

Re-pages are rows with a due time (UrgentPage), swept by beat: a Celery countdown would be
lost with the broker or redelivered after Redis' visibility timeout. Each round not
acknowledged pages the on-call clinician again and the whole team, and plans the next round.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake_service import channels
from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain.compliance import audit
from intake_service.domain.intake.contact import display_phone
from intake_service.domain.leads import events
from intake_service.domain.outreach import sequences, text_pages
from intake_service.models import Lead, Message, UrgentPage
from intake_service.security.ack_links import read_token

log = logging.getLogger(__name__)

PAGE_TEMPLATE = "team_urgent_page"
CRISIS_REPLY_TEMPLATE = "patient_crisis_reply"
# First contact for an urgent lead, in place of its treatment's sequence: no marketing.
FIRST_STEPS = (
    sequences.Step("first", "team", "email", PAGE_TEMPLATE),
    sequences.Step("first", "patient", "email", CRISIS_REPLY_TEMPLATE),
    sequences.Step("first", "patient", "sms", CRISIS_REPLY_TEMPLATE),
)


class UnknownLead(LookupError):
    """No lead has this id (it may have been deleted)."""


@dataclass(frozen=True)
class AckView:
    """What the acknowledgement page shows: enough to call, nothing clinical."""

    lead_id: uuid.UUID
    by: str
    first_name: str
    phone: str | None  # as people read it
    phone_e164: str | None  # for the tel: link
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None


def start(session: Session, lead: Lead, settings: Settings, now: dt.datetime) -> list[Message]:
    """Plan an urgent lead's first contact and first page, and its next page (not committed)."""
    planned = sequences.plan(session, lead, list(FIRST_STEPS), settings, now)
    planned += _page(session, lead, settings, 1, whole_team=False, now=now)
    _schedule(session, lead.id, 2, now + _repage_after(settings), now)
    session.flush()
    return planned


def sweep(db: Database, settings: Settings, now: dt.datetime | None = None) -> int:
    """Page again every urgent lead (and every crisis text from a number no lead gave) whose
    page is due and nobody acknowledged. Commits.

    `now` decides which pages are due (tests pass a clock); the pages themselves are due at
    once. Returns how many leads and texts were paged.
    """
    now = now or utcnow()
    paged = 0
    with db.transaction() as session:
        due = session.scalars(
            select(UrgentPage)
            .where(UrgentPage.done_at.is_(None), UrgentPage.due_at <= now)
            .order_by(UrgentPage.due_at)
            .limit(100)
            .with_for_update(skip_locked=True)
        ).all()
        for page in due:
            page.done_at = now
            if page.lead_id is None:
                # A crisis text from a number no lead gave: its own rounds (text_pages.py).
                again = text_pages.repage(session, page, settings, now)
                page.outcome = "paged" if again else "acknowledged"
                paged += int(again)
                continue
            lead = session.get(Lead, page.lead_id)
            if lead is None or lead.acknowledged_at is not None:
                page.outcome = "acknowledged"
                continue
            page.outcome = "paged"
            _page(session, lead, settings, page.round, whole_team=True, now=utcnow())
            _schedule(session, lead.id, page.round + 1, now + _repage_after(settings), now)
            paged += 1
            log.warning("urgent lead %s unacknowledged; page round %d", lead.id, page.round)
    return paged


def acknowledge(
    db: Database,
    lead_id: uuid.UUID,
    by: str,
    now: dt.datetime | None = None,
    actor: audit.Actor | None = None,
) -> bool:
    """Record that `by` has taken the urgent lead; stops its re-pages. Commits.

    `actor` is the signed-in staff member (the staff app); without one it came through the
    signed link. The first acknowledgement goes on the lead's timeline and the audit trail.
    Returns False if it was already acknowledged (the first acknowledgement stands).
    Raises UnknownLead.
    """
    now = now or utcnow()
    with db.transaction() as session:
        if session.get(Lead, lead_id) is None:
            raise UnknownLead(str(lead_id))
        result = session.execute(
            update(Lead)
            .where(Lead.id == lead_id, Lead.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=by[:320], updated_at=now)
        )
        session.execute(
            update(UrgentPage)
            .where(UrgentPage.lead_id == lead_id, UrgentPage.done_at.is_(None))
            .values(done_at=now, outcome="acknowledged")
        )
        first: bool = result.rowcount == 1  # type: ignore[attr-defined]
        if first:
            via = "staff_app" if actor is not None else "link"
            events.record(
                session,
                lead_id,
                "acknowledged",
                actor or audit.Actor(None, by[:320]),
                now,
                {"via": via, "by": by[:320]},
            )
    if first:
        log.info("urgent lead %s acknowledged", lead_id)
    return first


def acknowledge_link(db: Database, settings: Settings, token: str) -> AckView:
    """Acknowledge through a signed link. Commits. Raises InvalidAckLink or UnknownLead."""
    lead_id, by = read_token(settings.secret_key, token)
    acknowledge(db, lead_id, by)
    return link_details(db, settings, token)


def link_details(db: Database, settings: Settings, token: str) -> AckView:
    """What a signed link is about, without acknowledging. Raises InvalidAckLink, UnknownLead."""
    lead_id, by = read_token(settings.secret_key, token)
    with db.session() as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise UnknownLead(str(lead_id))
        return AckView(
            lead_id=lead.id,
            by=by,
            first_name=lead.first_name,
            phone=display_phone(lead.phone) if lead.phone else None,
            phone_e164=lead.phone,
            acknowledged_at=lead.acknowledged_at,
            acknowledged_by=lead.acknowledged_by,
        )


def _repage_after(settings: Settings) -> dt.timedelta:
    return dt.timedelta(minutes=settings.urgent_repage_minutes)


def _schedule(
    session: Session, lead_id: uuid.UUID, round_: int, due_at: dt.datetime, now: dt.datetime
) -> None:
    exists = session.scalar(
        select(UrgentPage.id).where(UrgentPage.lead_id == lead_id, UrgentPage.round == round_)
    )
    if exists is None:
        session.add(UrgentPage(lead_id=lead_id, round=round_, due_at=due_at, created_at=now))


def _page(
    session: Session,
    lead: Lead,
    settings: Settings,
    round_: int,
    whole_team: bool,
    now: dt.datetime,
) -> list[Message]:
    """Plan one round of pages: the on-call phone and email, and the team from round two."""
    recipients = [("sms", settings.on_call_phone), ("email", settings.on_call_email)]
    if whole_team:
        recipients += [("email", address) for address in settings.team_emails]
    # With texting switched off (SMS_ENABLED=false) the on-call email carries the page.
    to = [
        (channel, recipient)
        for channel, recipient in recipients
        if recipient and channels.enabled(channel, settings)
    ]
    existing = set(session.scalars(select(Message.plan_key).where(Message.lead_id == lead.id)))
    return text_pages.plan_pages(
        session, to, f"page{round_}", PAGE_TEMPLATE, existing, now, lead_id=lead.id
    )
