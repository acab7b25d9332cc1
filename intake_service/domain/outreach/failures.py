"""What a failed message means for its lead: a contact point marked, another channel tried,
the team told once when the patient could not be reached at all."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.channels import Unusable, kind
from intake_service.config import Settings
from intake_service.domain.compliance import opt_outs
from intake_service.domain.compliance.consent import record_opt_out
from intake_service.domain.compliance.policy import Decision, can_contact
from intake_service.domain.outreach import sequences
from intake_service.domain.templates.versions import TemplateMissing, current_version
from intake_service.models import Lead, Message, MessageStatus

log = logging.getLogger(__name__)

REACHED = (MessageStatus.SENT, MessageStatus.DELIVERED)
PENDING = (MessageStatus.PLANNED, MessageStatus.QUEUED, MessageStatus.SENDING)
UNREACHABLE_TEMPLATE = "team_unreachable"


def mark_contact_point(
    session: Session, message: Message, lead: Lead, unusable: Unusable, now: dt.datetime
) -> None:
    """Record that the provider found the patient's address dead, as its channel said, so that
    nothing more goes there (not committed)."""
    if message.audience != "patient":
        return
    lead.mark_unusable(message.channel, unusable.status)
    if unusable.opted_out:
        # The provider refuses messages to someone who told it to stop (Twilio 21610): that is
        # an opt-out, and an opt-out stops the whole sequence.
        record_opt_out(session, lead.id, message.channel, "provider", now)
        sequences.stop(session, lead.id, "opted_out", now)
        # Blocked by keyword for every lead with the address, until it opts back in.
        opt_outs.block_for_provider(session, message.channel, message.recipient, now)


def after_suppression(
    session: Session,
    message: Message,
    lead: Lead | None,
    settings: Settings,
    now: dt.datetime,
    decision: Decision,
) -> None:
    """A patient message the policy refused because its address is dead tries the other channel."""
    if decision.other_channel and lead is not None:
        _fall_back(session, message, lead, settings, now)


def after_failure(
    session: Session, message: Message, lead: Lead | None, settings: Settings, now: dt.datetime
) -> None:
    """Fall back to the patient's other channel, then tell the team if nobody reached them.

    `lead` is None for a page about a text from a number no lead gave: a team message, whose
    other recipients were paged in the same round.
    """
    if message.audience != "patient" or lead is None:
        log.error("team message %s failed: %s", message.id, message.last_error)
        return
    session.flush()  # the contact-point marks above must be visible to the queries below
    _fall_back(session, message, lead, settings, now)
    _tell_team_if_unreachable(session, lead, settings, now)


def _fall_back(
    session: Session, message: Message, lead: Lead, settings: Settings, now: dt.datetime
) -> None:
    other = kind(message.channel).fallback
    if other is None:
        return
    try:
        # English is every locale's fallback, so the English template says whether one exists.
        current_version(session, message.template_key, other)
    except TemplateMissing:
        log.info("no %s version of %s to fall back to", other, message.template_key)
        return
    # Planning asks the contact policy: no fallback once the sequence stopped, nor without
    # consent or a live address on the other channel.
    step = sequences.Step(message.step_key, "patient", other, message.template_key)
    planned = sequences.plan(session, lead, [step], settings, now)
    if planned:
        log.info("message %s falls back to %s as message %s", message.id, other, planned[0].id)


def _tell_team_if_unreachable(
    session: Session, lead: Lead, settings: Settings, now: dt.datetime
) -> None:
    patient = session.execute(
        select(Message.status, Message.channel, Message.step_key).where(
            Message.lead_id == lead.id, Message.audience == "patient"
        )
    ).all()
    if any(status in REACHED for status, _, _ in patient):
        return
    # Only first contact can still answer the patient now; later steps are days away. A pending
    # one counts only if the policy would still let it go (now or later).
    if any(
        status in PENDING
        and step == sequences.FIRST_CONTACT
        and can_contact(
            session, lead, channel, sequences.purpose_of(lead, "patient", step), now
        ).may_still_go
        for status, channel, step in patient
    ):
        return
    step = sequences.Step("unreachable", "team", "email", UNREACHABLE_TEMPLATE)
    # The plan key is unique per lead: the team is told once, however many messages failed.
    if sequences.plan(session, lead, [step], settings, now):
        log.warning("lead %s could not be reached on any channel; telling the team", lead.id)
