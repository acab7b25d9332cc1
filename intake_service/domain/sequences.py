"""Plan a lead's messages: Message rows with a channel, a template key and a due time.

Planning is idempotent: each step has a plan key, unique per lead, so processing a lead twice
plans nothing twice. Later steps of a follow-up sequence are rows with a later due_at.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.domain.consent import has_consent
from intake_service.models import Lead, Message


@dataclass(frozen=True)
class Step:
    key: str
    audience: str  # "team" | "patient"
    channel: str  # "email" | "sms"
    template_key: str
    delay: dt.timedelta = dt.timedelta(0)


# Right away: the team is told, and the patient gets a callback request by email and text.
FIRST_CONTACT = (
    Step("first", "team", "email", "team_new_lead"),
    Step("first", "patient", "email", "patient_first_reply"),
    Step("first", "patient", "sms", "patient_first_reply"),
)


def recipients(session: Session, lead: Lead, step: Step, settings: Settings) -> list[str]:
    """Who a step goes to: the team, or the patient where reachable and consenting."""
    if step.audience == "team":
        return list(settings.team_emails)
    if step.channel == "email":
        return [lead.email] if lead.email and has_consent(session, lead.id, "email") else []
    return [lead.phone] if lead.phone and has_consent(session, lead.id, "sms") else []


def plan(
    session: Session, lead: Lead, steps: tuple[Step, ...], settings: Settings, now: dt.datetime
) -> list[Message]:
    """Add the Message rows for `steps` that are not planned yet (not committed)."""
    existing = set(session.scalars(select(Message.plan_key).where(Message.lead_id == lead.id)))
    planned = []
    for step in steps:
        for recipient in recipients(session, lead, step, settings):
            plan_key = f"{step.key}:{step.audience}:{step.channel}:{recipient}"
            if plan_key in existing:
                continue
            message = Message(
                lead_id=lead.id,
                plan_key=plan_key,
                audience=step.audience,
                channel=step.channel,
                template_key=step.template_key,
                recipient=recipient,
                due_at=now + step.delay,
                created_at=now,
            )
            session.add(message)
            planned.append(message)
    session.flush()
    return planned
