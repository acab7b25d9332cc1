"""A crisis text from a number no lead gave pages on-call, as an urgent lead's reply does.

Crisis language never waits (DOMAIN.md), whoever sent it. Such a text pages the people an
urgent lead's first contact reaches (the on-call text and email, the team's urgent email) at
once, and again every URGENT_REPAGE_MINUTES until someone takes it on the staff app's page of
the text (`acknowledge`). The pages are Message rows about the inbound text, with no lead, so
they go the one way every message goes: claimed, retried, reconciled, reported on. They say
only that such a text came and where to read it behind the staff sign-in, never its words.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake_service import channels
from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain.compliance import audit
from intake_service.domain.outreach.sequences import plan_key_for
from intake_service.models import InboundMessage, Message, UrgentPage

log = logging.getLogger(__name__)

PAGE_TEMPLATE = "team_text_urgent_page"


class UnknownText(LookupError):
    """No text from an unknown number has this id (it may have been purged)."""


def start(
    session: Session, inbound: InboundMessage, settings: Settings, now: dt.datetime
) -> list[Message]:
    """Page about a crisis text from a number no lead gave, and plan the next round (not
    committed). The inbound row must be flushed (it has an id)."""
    planned = _page(session, inbound, settings, 1, now)
    _schedule(session, inbound.id, 2, now + _repage_after(settings), now)
    session.flush()
    log.warning("crisis words in text %s from a number no lead gave; paging", inbound.id)
    return planned


def repage(session: Session, page: UrgentPage, settings: Settings, now: dt.datetime) -> bool:
    """One due round for a text (not committed; urgent.sweep holds the page row's lock).

    True when it paged; False when the text was taken (or purged) meanwhile.
    """
    inbound = session.get(InboundMessage, page.inbound_message_id)
    if inbound is None or inbound.acknowledged_at is not None:
        return False
    _page(session, inbound, settings, page.round, utcnow())
    _schedule(session, inbound.id, page.round + 1, now + _repage_after(settings), now)
    log.warning("text %s from an unknown number not taken; page round %d", inbound.id, page.round)
    return True


def acknowledge(
    db: Database, inbound_id: int, actor: audit.Actor, now: dt.datetime | None = None
) -> bool:
    """A staff member takes a text from a number no lead gave: its pages stop. Commits.

    Returns False when someone took it already (the first stands). Raises UnknownText.
    """
    now = now or utcnow()
    by = (actor.email or "staff")[:320]
    with db.transaction() as session:
        inbound = session.get(InboundMessage, inbound_id)
        if inbound is None or inbound.lead_id is not None:
            raise UnknownText(str(inbound_id))
        result = session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id, InboundMessage.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=by)
        )
        session.execute(
            update(UrgentPage)
            .where(UrgentPage.inbound_message_id == inbound_id, UrgentPage.done_at.is_(None))
            .values(done_at=now, outcome="acknowledged")
        )
        first: bool = result.rowcount == 1  # type: ignore[attr-defined]
        if first:
            audit.record(session, actor, "text.acknowledged", detail={"text": inbound_id}, at=now)
    if first:
        log.info("text %s from an unknown number acknowledged", inbound_id)
    return first


def recipients(settings: Settings) -> list[tuple[str, str]]:
    """Who every round reaches: the on-call phone and email and the team, each once.

    An urgent lead's first round reaches the same people (its team email is its first
    contact); with texting off (SMS_ENABLED=false) the emails carry the page.
    """
    wanted = [("sms", settings.on_call_phone), ("email", settings.on_call_email)]
    wanted += [("email", address) for address in settings.team_emails]
    seen: set[tuple[str, str]] = set()
    chosen = []
    for channel, recipient in wanted:
        if not recipient or not channels.enabled(channel, settings):
            continue
        if (channel, recipient.lower()) in seen:
            continue
        seen.add((channel, recipient.lower()))
        chosen.append((channel, recipient))
    return chosen


def _repage_after(settings: Settings) -> dt.timedelta:
    return dt.timedelta(minutes=settings.urgent_repage_minutes)


def _schedule(
    session: Session, inbound_id: int, round_: int, due_at: dt.datetime, now: dt.datetime
) -> None:
    exists = session.scalar(
        select(UrgentPage.id).where(
            UrgentPage.inbound_message_id == inbound_id, UrgentPage.round == round_
        )
    )
    if exists is None:
        session.add(
            UrgentPage(inbound_message_id=inbound_id, round=round_, due_at=due_at, created_at=now)
        )


def _page(
    session: Session, inbound: InboundMessage, settings: Settings, round_: int, now: dt.datetime
) -> list[Message]:
    existing = set(
        session.scalars(select(Message.plan_key).where(Message.inbound_message_id == inbound.id))
    )
    planned = plan_pages(
        session,
        recipients(settings),
        f"page{round_}",
        PAGE_TEMPLATE,
        existing,
        now,
        inbound_message_id=inbound.id,
    )
    if not planned and not existing:
        log.error("text %s needs a crisis response but nobody is set to be paged", inbound.id)
    return planned


def plan_pages(
    session: Session,
    to: list[tuple[str, str]],
    step_key: str,
    template_key: str,
    existing: set[str],
    now: dt.datetime,
    **about: object,
) -> list[Message]:
    """One team page per (channel, recipient) in `to`, due now, unless its plan key is in
    `existing` (a round is planned once, however often it is asked). `about` names what the
    page is about: lead_id= or inbound_message_id=. Not committed."""
    planned = []
    for channel, recipient in to:
        plan_key = plan_key_for(step_key, "team", channel, recipient)
        if plan_key in existing:
            continue
        existing.add(plan_key)
        message = Message(
            plan_key=plan_key,
            step_key=step_key,
            audience="team",
            channel=channel,
            template_key=template_key,
            recipient=recipient,
            due_at=now,
            created_at=now,
            **about,
        )
        session.add(message)
        planned.append(message)
    session.flush()
    return planned
