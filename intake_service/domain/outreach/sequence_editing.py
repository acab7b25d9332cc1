"""Admins edit follow-up sequences: add, change, reorder, disable steps; versions; restore.

A change applies to leads planned after it: planning writes a lead's Message rows when the
lead arrives, and those rows keep their schedule. Each change marks the sequence as the
admin's (so `templates load` leaves it alone) and stores a snapshot as a new version.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake_service.channels import kind
from intake_service.domain.compliance import audit
from intake_service.domain.outreach.sequences import FIRST_CONTACT, InvalidSequence, parse_delay
from intake_service.domain.templates.message_context import TREATMENT_LABELS, about, audience
from intake_service.domain.templates.versions import Author
from intake_service.models import Sequence, SequenceStep, SequenceVersion, Template
from intake_service.models.lead import TREATMENTS

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
AUDIENCES = ("team", "patient")
CHANNELS = ("email", "sms")


class UnknownStep(LookupError):
    """No sequence, step or version has that id or number."""


@dataclass(frozen=True)
class StepView:
    id: int
    position: int
    key: str
    audience: str
    channel: str
    template_key: str
    delay: str  # "0", "30m", "1d": as typed in the form
    delay_label: str  # "at once", "after 1 day"
    enabled: bool
    protected: bool  # the team's first-contact email: how a person learns of a lead


@dataclass(frozen=True)
class VersionView:
    version: int
    created_at: dt.datetime
    author: str | None
    note: str | None
    steps: int


@dataclass(frozen=True)
class SequenceView:
    treatment: str
    label: str
    source: str
    steps: list[StepView]
    versions: list[VersionView]


def delay_text(seconds: int) -> str:
    """The shortest form parse_delay reads back: 0, 90s, 30m, 4h, 1d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s" if seconds else "0"


def delay_label(seconds: int) -> str:
    if not seconds:
        return "at once"
    text = delay_text(seconds)
    number, unit = int(text[:-1]), text[-1]
    name = {"d": "day", "h": "hour", "m": "minute", "s": "second"}[unit]
    return f"after {number} {name}{'' if number == 1 else 's'}"


def _protected(step: SequenceStep) -> bool:
    return step.key == FIRST_CONTACT and step.audience == "team"


def _view(step: SequenceStep) -> StepView:
    return StepView(
        step.id,
        step.position,
        step.key,
        step.audience,
        step.channel,
        step.template_key,
        delay_text(step.delay_seconds),
        delay_label(step.delay_seconds),
        step.enabled,
        _protected(step),
    )


def _sequence(session: Session, treatment: str) -> Sequence:
    sequence = session.scalars(select(Sequence).where(Sequence.treatment == treatment)).first()
    if sequence is None:
        raise UnknownStep(
            f"no sequence is stored for {treatment}; run `intake-service templates load`"
        )
    return sequence


def overview(session: Session) -> list[SequenceView]:
    """Every stored sequence with its steps and versions, in the treatments' order."""
    stored = {s.treatment: s for s in session.scalars(select(Sequence))}
    views = []
    for treatment in TREATMENTS:
        sequence = stored.get(treatment)
        if sequence is None:
            continue
        history = session.scalars(
            select(SequenceVersion)
            .where(SequenceVersion.sequence_id == sequence.id)
            .order_by(SequenceVersion.version.desc())
        )
        views.append(
            SequenceView(
                treatment,
                TREATMENT_LABELS[treatment],
                sequence.source,
                [_view(step) for step in sequence.steps],
                [
                    VersionView(v.version, v.created_at, v.author_email, v.note, len(v.steps))
                    for v in history
                ],
            )
        )
    return views


def template_choices(session: Session) -> dict[str, list[str]]:
    """Template keys a step may name, by "audience:channel" (once each, whatever its locales)."""
    choices: dict[str, list[str]] = {f"{a}:{c}": [] for a in AUDIENCES for c in CHANNELS}
    for key, channel in session.execute(
        select(Template.key, Template.channel).distinct().order_by(Template.key, Template.channel)
    ):
        if about(key) == "lead":  # a page about an inbound text has no lead to render for
            choices.setdefault(f"{audience(key)}:{channel}", []).append(key)
    return choices


def _snapshot(sequence: Sequence) -> list[dict[str, Any]]:
    return [
        {
            "key": s.key,
            "audience": s.audience,
            "channel": s.channel,
            "template_key": s.template_key,
            "delay_seconds": s.delay_seconds,
            "enabled": s.enabled,
        }
        for s in sequence.steps
    ]


def _next_version(session: Session, sequence: Sequence) -> int:
    latest = session.scalar(
        select(func.max(SequenceVersion.version)).where(SequenceVersion.sequence_id == sequence.id)
    )
    return (latest or 0) + 1


def _before_change(session: Session, sequence: Sequence) -> None:
    """Keep the state before an admin's first change as version 1, so it can be restored."""
    if _next_version(session, sequence) == 1:
        session.add(
            SequenceVersion(
                sequence_id=sequence.id,
                version=1,
                note="As loaded from templates/sequences.toml"
                if sequence.source == "default"
                else "Before the first recorded change",
                steps=_snapshot(sequence),
            )
        )
        session.flush()


def _changed(session: Session, sequence: Sequence, author: Author, note: str, change: str) -> int:
    session.flush()
    session.refresh(sequence, ["steps"])
    sequence.source = "admin"
    number = _next_version(session, sequence)
    session.add(
        SequenceVersion(
            sequence_id=sequence.id,
            version=number,
            author_id=author.id,
            author_email=author.email,
            note=note,
            steps=_snapshot(sequence),
        )
    )
    session.flush()
    audit.record(
        session,
        audit.Actor(author.id, author.email),
        "sequence.changed" if change != "restored" else "sequence.restored",
        detail={"treatment": sequence.treatment, "version": number, "change": change},
    )
    return number


def _check_template(session: Session, step_audience: str, channel: str, template_key: str) -> None:
    if about(template_key) != "lead":
        raise InvalidSequence(f"{template_key} pages about a text, not about a lead")
    if audience(template_key) != step_audience:
        raise InvalidSequence(
            f"{template_key} is written for the {audience(template_key)}, not the {step_audience}"
        )
    exists = session.scalars(
        select(Template.id).where(Template.key == template_key, Template.channel == channel)
    ).first()
    if exists is None:
        raise InvalidSequence(f"there is no {channel} template called {template_key}")


def _check_delay(key: str, text: str) -> int:
    seconds = int(parse_delay(text).total_seconds())
    if key == FIRST_CONTACT and seconds:
        raise InvalidSequence("first contact goes at once: speed to lead is the point of it")
    return seconds


def add_step(
    session: Session,
    treatment: str,
    key: str,
    delay: str,
    step_audience: str,
    channel: str,
    template_key: str,
    author: Author,
) -> int:
    """Append a step (not committed); returns the new version.

    Raises InvalidSequence or UnknownStep.
    """
    sequence = _sequence(session, treatment)
    key = key.strip().lower()
    if not _KEY.match(key):
        raise InvalidSequence("a step's name is lower-case letters, digits and _, like day2")
    if step_audience not in AUDIENCES or channel not in CHANNELS:
        raise InvalidSequence("pick who the step is for and how it goes")
    if step_audience == "team" and not kind(channel).reaches_team:
        # The team's addresses are TEAM_EMAILS: a team text has nowhere to go.
        raise InvalidSequence("team steps go by email")
    if any((s.key, s.audience, s.channel) == (key, step_audience, channel) for s in sequence.steps):
        raise InvalidSequence(f"this sequence already has a {step_audience} {channel} step {key}")
    seconds = _check_delay(key, delay)
    _check_template(session, step_audience, channel, template_key)
    _before_change(session, sequence)
    position = max((s.position for s in sequence.steps), default=-1) + 1
    sequence.steps.append(
        SequenceStep(
            position=position,
            key=key,
            audience=step_audience,
            channel=channel,
            template_key=template_key,
            delay_seconds=seconds,
        )
    )
    return _changed(session, sequence, author, f"Added {key} ({step_audience} {channel})", "added")


def _step(session: Session, step_id: int) -> SequenceStep:
    step = session.get(SequenceStep, step_id)
    if step is None:
        raise UnknownStep(f"no step with id {step_id}")
    return step


def update_step(
    session: Session, step_id: int, delay: str, template_key: str, author: Author
) -> int:
    """Change a step's delay and template (not committed). Raises InvalidSequence, UnknownStep."""
    step = _step(session, step_id)
    seconds = _check_delay(step.key, delay)
    _check_template(session, step.audience, step.channel, template_key)
    if (seconds, template_key) == (step.delay_seconds, step.template_key):
        return 0
    _before_change(session, step.sequence)
    step.delay_seconds, step.template_key = seconds, template_key
    return _changed(
        session, step.sequence, author, f"Changed {step.key} ({step.channel})", "changed"
    )


def set_enabled(session: Session, step_id: int, enabled: bool, author: Author) -> int:
    """Enable or disable a step (not committed). Raises InvalidSequence, UnknownStep."""
    step = _step(session, step_id)
    if step.enabled == enabled:
        return 0
    if not enabled and _protected(step):
        raise InvalidSequence(
            "the team's first-contact email is how a person learns of a new lead; it stays on"
        )
    _before_change(session, step.sequence)
    step.enabled = enabled
    verb = "Enabled" if enabled else "Disabled"
    return _changed(
        session,
        step.sequence,
        author,
        f"{verb} {step.key} ({step.audience} {step.channel})",
        verb.lower(),
    )


def move_step(session: Session, step_id: int, direction: str, author: Author) -> int:
    """Swap a step with the one above ("up") or below ("down") (not committed); 0 at an end."""
    step = _step(session, step_id)
    steps = list(step.sequence.steps)
    index = steps.index(step)
    other = index - 1 if direction == "up" else index + 1
    if direction not in ("up", "down") or not 0 <= other < len(steps):
        return 0
    _before_change(session, step.sequence)
    neighbour = steps[other]
    step.position, neighbour.position = neighbour.position, step.position
    if step.position == neighbour.position:  # positions from an old load may repeat
        for position, each in enumerate(steps):
            each.position = position
        step.position, neighbour.position = neighbour.position, step.position
    return _changed(session, step.sequence, author, f"Moved {step.key} {direction}", "moved")


def restore(session: Session, treatment: str, number: int, author: Author) -> int:
    """Make version `number`'s steps the sequence again, as a new version (not committed).

    Raises UnknownStep, or InvalidSequence when a template it names is gone.
    """
    sequence = _sequence(session, treatment)
    old = session.scalars(
        select(SequenceVersion).where(
            SequenceVersion.sequence_id == sequence.id, SequenceVersion.version == number
        )
    ).first()
    if old is None:
        raise UnknownStep(f"the {treatment} sequence has no version {number}")
    for step in old.steps:
        _check_template(session, step["audience"], step["channel"], step["template_key"])
    # Old steps go first: the restored ones may reuse their (key, audience, channel).
    sequence.steps.clear()
    session.flush()
    sequence.steps = [
        SequenceStep(position=position, **step) for position, step in enumerate(old.steps)
    ]
    return _changed(session, sequence, author, f"Restored version {number}", "restored")
