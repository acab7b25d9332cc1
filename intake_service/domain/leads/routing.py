"""Route a lead to a queue and, round-robin, to one of its members: rules as data.

Rules are tried by position; the first whose conditions all hold (a blank one holds for every
lead) names the queue. Within a queue, the next member after the last one given a lead gets
it, skipping members marked off and disabled accounts. No rule, or nobody on duty: the lead
goes to the default team (TEAM_EMAILS) unassigned, so nothing ever routes to nobody.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.domain.clinic_settings import ClinicProfile, effective_clinic
from intake_service.models import Lead, RoutingQueue, RoutingRule, User


@dataclass(frozen=True)
class Route:
    queue_id: int | None  # None: the default team
    assignee_id: int | None
    addresses: tuple[str, ...]


def _hour_matches(rule: RoutingRule, hour: int) -> bool:
    if rule.hour_from is None or rule.hour_to is None:
        return True
    if rule.hour_from <= rule.hour_to:
        return rule.hour_from <= hour < rule.hour_to
    return hour >= rule.hour_from or hour < rule.hour_to  # past midnight


def _matches(rule: RoutingRule, lead: Lead, hour: int) -> bool:
    sources = {str(v).casefold() for k, v in (lead.source or {}).items() if k != "page"}
    return (
        (rule.treatment is None or rule.treatment == lead.treatment_interest)
        and (rule.priority is None or rule.priority == (lead.priority or "normal"))
        and (rule.source is None or rule.source.casefold() in sources)
        and _hour_matches(rule, hour)
    )


def pick_queue(
    session: Session, lead: Lead, settings: Settings, clinic: ClinicProfile | None = None
) -> RoutingQueue | None:
    """The queue of the first active rule matching the lead at its arrival hour, in the clinic's
    time zone as an admin set it (clinic settings, over CLINIC_TIMEZONE; `clinic` when the
    caller has read them already)."""
    clinic = clinic or effective_clinic(session, settings)
    hour = lead.created_at.astimezone(clinic.zone).hour
    rules = session.scalars(
        select(RoutingRule)
        .where(RoutingRule.active.is_(True))
        .order_by(RoutingRule.position, RoutingRule.id)
    )
    for rule in rules:
        if _matches(rule, lead, hour):
            return rule.queue
    return None


def next_member(session: Session, queue: RoutingQueue) -> User | None:
    """The next member on duty after the last one given a lead, advancing the turn (locked)."""
    session.refresh(queue, with_for_update=True)  # two workers must not give out one turn
    on_duty = [m for m in queue.members if not m.off and m.user.active]
    if not on_duty:
        return None
    later = [m for m in on_duty if m.position > queue.last_position]
    chosen = later[0] if later else on_duty[0]
    queue.last_position = chosen.position
    return chosen.user


def route(
    session: Session,
    lead: Lead,
    settings: Settings,
    now: dt.datetime,
    clinic: ClinicProfile | None = None,
) -> Route:
    """Give the lead its queue and, unless already assigned, an assignee (not committed).

    Idempotent: a lead already routed keeps its queue and assignee (a worker may run twice).
    """
    if lead.queue_id is None and lead.assignee_id is None:
        queue = pick_queue(session, lead, settings, clinic)
        if queue is not None:
            lead.queue_id = queue.id
            member = next_member(session, queue)
            if member is not None:
                lead.assignee_id, lead.assigned_at = member.id, now
    return Route(lead.queue_id, lead.assignee_id, team_addresses(session, lead, settings))


def team_addresses(session: Session, lead: Lead, settings: Settings) -> tuple[str, ...]:
    """Where the team email about this lead goes: its queue's addresses, else TEAM_EMAILS."""
    if lead.queue_id is not None:
        queue = session.get(RoutingQueue, lead.queue_id)
        if queue is not None and queue.addresses():
            return tuple(queue.addresses())
    return tuple(settings.team_emails)
