"""A one-off message from staff to a patient: a template, previewed, then sent like any other.

It goes through the same door as every automatic message: a Message row with its own plan
key, asked of the one contact policy (Purpose.STAFF_ONE_OFF) when planned and again when a
worker sends it, rendered from the template version staff saw in the preview.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service import channels
from intake_service.config import Settings
from intake_service.domain.compliance import audit
from intake_service.domain.compliance.policy import Decision, Purpose, can_contact
from intake_service.domain.leads.status import get_lead
from intake_service.domain.outreach import sequences
from intake_service.domain.templates import message_context
from intake_service.domain.templates.rendering import RenderError, render
from intake_service.domain.templates.versions import (
    TemplateMissing,
    as_source,
    message_locale,
    version_for,
)
from intake_service.models import Lead, Message, Template

CHANNEL_LABELS = {name: k.label for name, k in channels.KINDS.items()}
# What staff read for each of the policy's reason codes.
REASONS = {
    "no_consent": (
        "the patient has not agreed to messages by {label}, or has opted out"
        " (for texts: replied STOP)"
    ),
    "lead_spam": "the lead is marked as spam",
    "lead_closed": "the lead is closed",
    "email_missing": "there is no email address for this lead",
    "sms_missing": "there is no phone number for this lead",
}


class CannotSend(ValueError):
    """The message may not go (policy, template, or a stale preview); the text says why."""


@dataclass(frozen=True)
class Preview:
    template_key: str
    channel: str
    version_id: int
    recipient: str
    subject: str | None
    body_text: str
    decision: Decision
    # Deferred, and the policy would let it go now if staff confirm the exemption.
    exemption: bool = False
    locale: str = "en"  # the language of the version rendered
    wanted: str = "en"  # the lead's language: another `locale` means that version is missing


@dataclass(frozen=True)
class Sent:
    message_id: int
    due_at: dt.datetime
    deferred: bool  # the policy allows it only later (quiet hours): it waits until due_at


def templates(session: Session) -> list[tuple[str, str]]:
    """The (key, channel) pairs staff may send: every loaded template that speaks to patients.

    One pair per template whatever its locales: the lead's language picks the version.
    """
    rows = session.execute(
        select(Template.key, Template.channel).distinct().order_by(Template.key, Template.channel)
    )
    return [
        (key, channel)
        for key, channel in rows
        if message_context.audience(key) == "patient" and channel in CHANNEL_LABELS
    ]


def explain(decision: Decision, channel: str) -> str:
    """The policy's refusal as a sentence for staff."""
    code = decision.reason
    channel_kind = channels.kind(channel)
    if code in REASONS:
        return REASONS[code].format(label=channel_kind.label)
    if code.startswith(f"{channel}_"):
        state = code.removeprefix(f"{channel}_").replace("_", " ")
        return f"the {channel_kind.contact_point} is {state}"
    return code.replace("_", " ")


def preview(
    session: Session,
    lead_id: uuid.UUID,
    template_key: str,
    channel: str,
    settings: Settings,
    now: dt.datetime,
) -> Preview:
    """Render the template for this lead and ask the policy; raises UnknownLead, CannotSend."""
    lead = get_lead(session, lead_id)
    if (template_key, channel) not in templates(session):
        raise CannotSend("there is no such template to send to a patient")
    try:
        locale = message_locale(template_key, lead.locale)
        version = version_for(session, template_key, channel, locale)
        context = message_context.patient_context(lead, settings, locale=version.template.locale)
        rendered = render(as_source(version), context)
    except (TemplateMissing, RenderError) as error:
        raise CannotSend(f"the template cannot be used: {error}") from None
    decision = can_contact(session, lead, channel, Purpose.STAFF_ONE_OFF, now)
    deferred = not decision.allowed and decision.not_before is not None
    # Whether an exemption is allowed is the policy's to say, through its rules' purposes.
    exemption = (
        deferred and can_contact(session, lead, channel, Purpose.STAFF_CONFIRMED, now).allowed
    )
    return Preview(
        template_key=template_key,
        channel=channel,
        version_id=version.id,
        recipient=lead.address(channel) or "",
        subject=rendered.subject,
        body_text=rendered.body_text,
        decision=decision,
        exemption=exemption,
        locale=version.template.locale,
        wanted=locale,
    )


def send(
    session: Session,
    lead_id: uuid.UUID,
    template_key: str,
    channel: str,
    version_id: int,
    actor: audit.Actor,
    settings: Settings,
    now: dt.datetime,
    exempt: bool = False,
) -> Sent:
    """Plan the previewed message, due now or when the policy allows it (not committed).

    With `exempt` (staff confirmed it must go now) a deferred message goes at once, where the
    policy allows that exemption; delivery re-checks it under Purpose.STAFF_CONFIRMED. The
    caller hands `message_id` to the broker after committing. Raises UnknownLead and
    CannotSend (refused by the policy, or the template changed since the preview).
    """
    seen = preview(session, lead_id, template_key, channel, settings, now)
    if seen.version_id != version_id:
        raise CannotSend("the template was changed since your preview; look at it again")
    decision = seen.decision
    if not decision.may_still_go:
        raise CannotSend(f"not sent: {explain(decision, channel)}")
    if exempt and not seen.exemption:
        raise CannotSend("no exemption is allowed for this message now; it will wait")
    lead = session.get_one(Lead, lead_id)
    step_key = sequences.STAFF_CONFIRMED if exempt else sequences.STAFF_ONE_OFF
    due_at = now if exempt else (decision.not_before if not decision.allowed else None) or now
    # Each one-off is its own message: the plan key carries a fresh id, so sending the same
    # template twice (on purpose) is two messages, and a repeated POST is caught by the form.
    step = f"{step_key}-{uuid.uuid4().hex[:12]}"
    message = Message(
        lead_id=lead.id,
        plan_key=sequences.plan_key_for(step, "patient", channel, seen.recipient),
        step_key=step_key,
        audience="patient",
        channel=channel,
        template_key=template_key,
        recipient=seen.recipient,
        due_at=due_at,
        created_at=now,
    )
    session.add(message)
    session.flush()
    audit.record(
        session,
        actor,
        "lead.message_sent",
        lead_id=lead_id,
        detail={
            "message_id": message.id,
            "template": template_key,
            "channel": channel,
            **({"exempt": True, "deferred_by": decision.reason} if exempt else {}),
        },
        at=now,
    )
    return Sent(message.id, due_at, deferred=due_at > now)
