"""Follow-up sequences as data: plan a lead's messages, and stop them when a person takes over.

A sequence is a list of steps per treatment of interest; planning turns each step into a
Message row with a due time (the lead's arrival plus the step's delay). Planning is
idempotent: a plan key, unique per lead, names each step, channel and recipient.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload

from intake_service import channels
from intake_service.config import Settings
from intake_service.domain.compliance import text_volume
from intake_service.domain.compliance.policy import Facts, Purpose, can_contact
from intake_service.domain.leads import routing
from intake_service.domain.templates.versions import TemplateMissing, current_version
from intake_service.models import Lead, Message, MessageStatus, Sequence, SequenceStep
from intake_service.models.lead import TREATMENTS
from intake_service.models.message import can_move_to
from intake_service.paths import templates_root

log = logging.getLogger(__name__)

FIRST_CONTACT = "first"
# The step key of a message a staff member sends by hand from the lead page.
STAFF_ONE_OFF = "staff"
# ... and one a rule deferred, sent now because staff confirmed an exemption the rule allows.
STAFF_CONFIRMED = "staff_confirmed"
# Why a sequence stops (the moment any of these happens, DOMAIN.md and issue 4).
STOP_REASONS = (
    "replied",
    "callback_requested",
    "called_back",
    "contacted",
    "booked",
    "closed",
    "spam",
    "opted_out",
    "urgent",
)
AUDIENCES = ("team", "patient")
MAX_DELAY = dt.timedelta(days=365)
# Stopping cancels what no worker holds yet: a message in `sending` belongs to its worker, and
# the send-time check of the contact policy cancels it there.
_CANCELLABLE = tuple(
    s for s in can_move_to(MessageStatus.CANCELLED) if s in can_move_to(MessageStatus.SENDING)
)
_DELAY = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class InvalidSequence(ValueError):
    """A sequence definition that cannot be used; the message says which step and why."""


@dataclass(frozen=True)
class Step:
    key: str
    audience: str  # "team" | "patient"
    channel: str  # "email" | "sms"
    template_key: str
    delay: dt.timedelta = dt.timedelta(0)
    # What makes this one of several messages of the same step (a returning lead's submission
    # id): part of the plan key, never of the step key, which stays a short name.
    occasion: str = ""


def parse_delay(text: str) -> dt.timedelta:
    """'0', '90s', '30m', '4h', '1d' as a timedelta; raises InvalidSequence."""
    match = _DELAY.match(text.strip())
    if match is None:
        raise InvalidSequence(f"delay {text!r} is not like 0, 30m, 4h or 1d")
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds > MAX_DELAY.total_seconds():
        raise InvalidSequence(f"delay {text!r} is longer than a year")
    return dt.timedelta(seconds=seconds)


def read_defaults(path: Path | None = None) -> dict[str, list[Step]]:
    """The default sequences from templates/sequences.toml, by treatment; raises InvalidSequence."""
    path = path or templates_root() / "sequences.toml"
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    sequences: dict[str, list[Step]] = {}
    for entry in data.get("sequence", []):
        treatment = entry["treatment"]
        if treatment not in TREATMENTS:
            raise InvalidSequence(f"unknown treatment {treatment!r} in {path.name}")
        steps = [
            Step(s["key"], s["audience"], s["channel"], s["template"], parse_delay(s["after"]))
            for s in entry["steps"]
        ]
        for step in steps:
            if step.audience not in AUDIENCES or step.channel not in channels.CHANNEL_KINDS:
                raise InvalidSequence(f"{treatment} step {step.key}: bad audience or channel")
        sequences[treatment] = steps
    missing = sorted(set(TREATMENTS) - set(sequences))
    if missing:
        raise InvalidSequence(f"{path.name} has no sequence for {', '.join(missing)}")
    return sequences


def load_defaults(session: Session, path: Path | None = None) -> list[str]:
    """Store the default sequences, leaving any an admin changed alone (not committed).

    Returns the treatments whose sequence was written.
    """
    written = []
    for treatment, steps in read_defaults(path).items():
        sequence = session.scalars(select(Sequence).where(Sequence.treatment == treatment)).first()
        if sequence is not None and (sequence.source != "default" or _steps_of(sequence) == steps):
            continue
        for step in steps:
            try:
                # English: every locale falls back to it, so it must be loaded.
                current_version(session, step.template_key, step.channel)
            except TemplateMissing:
                raise InvalidSequence(
                    f"{treatment} step {step.key} names {step.template_key} ({step.channel}), "
                    "which is not a loaded template"
                ) from None
        if sequence is None:
            sequence = Sequence(treatment=treatment, source="default")
            session.add(sequence)
        else:
            # Old steps go first: the new ones may reuse their (key, audience, channel).
            sequence.steps.clear()
            session.flush()
        sequence.steps = [
            SequenceStep(
                position=position,
                key=step.key,
                audience=step.audience,
                channel=step.channel,
                template_key=step.template_key,
                delay_seconds=int(step.delay.total_seconds()),
            )
            for position, step in enumerate(steps)
        ]
        written.append(treatment)
    session.flush()
    return written


def _steps_of(sequence: Sequence) -> list[Step]:
    # A step an admin disabled is not planned for leads that arrive after (issue 12).
    return [
        Step(s.key, s.audience, s.channel, s.template_key, dt.timedelta(seconds=s.delay_seconds))
        for s in sequence.steps
        if s.enabled
    ]


def steps_for(session: Session, treatment: str) -> list[Step]:
    """The sequence in force for a treatment: the database's, or the shipped default."""
    # The steps in the same query (one row per step), not a second one.
    sequence = (
        session.scalars(
            select(Sequence)
            .where(Sequence.treatment == treatment)
            .options(joinedload(Sequence.steps))
        )
        .unique()
        .first()
    )
    if sequence is not None:
        return _steps_of(sequence)
    log.warning("no sequence stored for %s; using the shipped default", treatment)
    return read_defaults()[treatment]


def purpose_of(lead: Lead, audience: str, step_key: str) -> Purpose:
    """Why a step's message to (or about) `lead` is sent, as the contact policy weighs it."""
    if audience == "team":
        return Purpose.TEAM_ALERT
    if step_key == STAFF_ONE_OFF:
        return Purpose.STAFF_ONE_OFF
    if step_key == STAFF_CONFIRMED:
        return Purpose.STAFF_CONFIRMED
    if step_key != FIRST_CONTACT:
        return Purpose.FOLLOW_UP
    # First contact with a lead in crisis is the crisis reply (988, 911), never marketing.
    return Purpose.CRISIS if lead.urgent else Purpose.FIRST_CONTACT


def recipients(
    session: Session,
    lead: Lead,
    step: Step,
    settings: Settings,
    now: dt.datetime,
    facts: Facts | None = None,
) -> list[str]:
    """Who a step goes to: the team, or the patient where the contact policy allows it.

    A message the policy only defers (allowed later) is planned: delivery waits for its time.
    `facts` keeps what the policy read for one planning (policy.can_contact).
    """
    if not channels.enabled(step.channel, settings):
        return []
    purpose = purpose_of(lead, step.audience, step.key)
    decision = can_contact(session, lead, step.channel, purpose, now, facts)
    if not decision.may_still_go:
        return []
    if step.audience == "team":
        # The lead's routing queue, or the default team (domain.leads.routing).
        return list(routing.team_addresses(session, lead, settings))
    address = lead.address(step.channel)
    return [address] if address else []


def plan(
    session: Session,
    lead: Lead,
    steps: list[Step],
    settings: Settings,
    now: dt.datetime,
    facts: Facts | None = None,
) -> list[Message]:
    """Add the Message rows for `steps` the contact policy allows and not planned yet.

    Not committed. The policy gives a lead whose sequence stopped nothing more to the patient,
    and an urgent lead first contact only: a person calls. `facts`: what the caller already
    read for the policy in this transaction (policy.Facts).
    """
    existing = set(session.scalars(_PLAN_KEYS, {"lead_id": lead.id}))
    facts = {} if facts is None else facts
    rows = []
    for step in steps:
        for recipient in recipients(session, lead, step, settings, now, facts):
            planned_as = f"{step.key}:{step.occasion}" if step.occasion else step.key
            plan_key = plan_key_for(planned_as, step.audience, step.channel, recipient)
            if plan_key in existing:
                continue
            # Due relative to the lead's arrival, so a late or repeated planning keeps the rhythm.
            due_at = max(now, lead.created_at + step.delay) if step.delay else now
            rows.append(
                {
                    "lead_id": lead.id,
                    "plan_key": plan_key,
                    "step_key": step.key,
                    "audience": step.audience,
                    "channel": step.channel,
                    "template_key": step.template_key,
                    "recipient": recipient,
                    "due_at": due_at,
                    "created_at": now,
                }
            )
            existing.add(plan_key)
    session.flush()  # what the caller changed first, as the unit of work would have
    if not rows:
        return []
    # Written after every question to the policy, in one INSERT that hands the rows back as
    # Messages: the unit of work's bookkeeping per object was most of a planning's CPU.
    planned = list(session.scalars(_ADD_MESSAGES, rows))
    # Not a flush, so the texts' hourly counts are added here, in the same transaction.
    text_volume.count_planned(session, planned)
    return planned


_PLAN_KEYS = select(Message.plan_key).where(Message.lead_id == bindparam("lead_id"))
_ADD_MESSAGES = insert(Message).returning(Message, sort_by_parameter_order=True)


def plan_key_for(step_key: str, audience: str, channel: str, recipient: str) -> str:
    return f"{step_key}:{audience}:{channel}:{recipient}"


def stop(session: Session, lead_id: uuid.UUID, reason: str, now: dt.datetime) -> int:
    """Stop the lead's follow-up: cancel every patient message not yet sent (not committed).

    Messages to the team still go: they are how a person learns to call. Returns how many
    messages were cancelled. Raises ValueError for an unknown reason.
    """
    if reason not in STOP_REASONS:
        raise ValueError(f"unknown reason to stop a sequence: {reason!r}")
    session.execute(
        update(Lead)
        .where(Lead.id == lead_id, Lead.sequence_stopped_at.is_(None))
        .values(sequence_stopped_at=now, sequence_stop_reason=reason)
    )
    cancelled = session.execute(
        update(Message)
        .where(
            Message.lead_id == lead_id,
            Message.audience == "patient",
            Message.status.in_(_CANCELLABLE),
        )
        .values(
            status=MessageStatus.CANCELLED, last_error=f"sequence stopped: {reason}", updated_at=now
        )
    )
    count: int = cancelled.rowcount  # type: ignore[attr-defined]
    log.info("sequence stopped for lead %s (%s): %d messages cancelled", lead_id, reason, count)
    return count
