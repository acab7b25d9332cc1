"""The quiet-hour rules in force: the shipped defaults (data/quiet_hours.toml) or an admin's edit.

An admin edits the state windows only. The federal window (TCPA, 8:00-21:00 where the patient
is) is the floor and stays as shipped: a state's window must lie inside it on every day, and an
edit that would reach past it is refused rather than silently clipped, so the page never shows
a window the service does not keep. The edited set is one `clinic_settings` row ("quiet_hours":
every state's week, day by day); the same set as the defaults is no row, so a newer default
file reaches every clinic that changed nothing. Every change is a `settings.changed` audit row
with the state's week before and after.

`effective_rules(session)` is what the contact policy reads at send time.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from intake_service.domain.clinic_settings import InvalidSetting, store_override
from intake_service.domain.compliance import audit
from intake_service.domain.compliance.quiet_hours import (
    DATA,
    DEFAULT_RULES_PATH,
    InvalidRules,
    Rules,
    Week,
    Window,
    area_code_states,
    parse_rules,
)
from intake_service.models import ClinicSetting

SETTING_KEY = "quiet_hours"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_LABELS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CLOSED = "closed"

StateWeek = dict[str, str]  # day name -> "HH:MM-HH:MM" or "closed"


class InvalidQuietHours(InvalidSetting):
    """An edit of a state's window that cannot be used (`field` names the form field)."""


@dataclass(frozen=True)
class StateRow:
    """One state as the admin page lists it."""

    code: str
    name: str
    week: tuple[Window | None, ...]  # the effective window per weekday, Monday first
    default: tuple[Window | None, ...] | None  # the shipped week; None: not in the defaults
    edited: bool  # differs from the shipped rule

    @property
    def summary(self) -> str:
        return summarise(self.week)

    @property
    def default_summary(self) -> str:
        return summarise(self.default) if self.default is not None else "federal window only"


@functools.cache
def _default_data() -> dict[str, Any]:
    with DEFAULT_RULES_PATH.open("rb") as handle:
        return tomllib.load(handle)


@functools.cache
def state_names() -> dict[str, str]:
    """Every state (and DC) the area codes know, code -> name, in name order."""
    with (DATA / "us_states.csv").open(newline="") as handle:
        rows = csv.reader(line for line in handle if not line.startswith("#"))
        next(rows)  # header
        names = {code: name for name, code in rows}
    known = set(area_code_states().values())
    return dict(sorted(((c, n) for c, n in names.items() if c in known), key=lambda p: p[1]))


def window_text(window: Window | None) -> str:
    return CLOSED if window is None else f"{window.start:%H:%M}-{window.end:%H:%M}"


def _week_text(week: Week) -> StateWeek:
    return {day: window_text(week[index]) for index, day in enumerate(DAYS)}


def default_states() -> dict[str, StateWeek]:
    """The shipped state rules, every day spelled out."""
    rules = parse_rules(_default_data())
    return {state: _week_text(week) for state, week in rules.states.items()}


@functools.lru_cache(maxsize=32)
def _rules_of(stored_json: str) -> Rules:
    data = dict(_default_data())
    data["state"] = json.loads(stored_json)
    return parse_rules(data)


def _stored(session: Session) -> dict[str, StateWeek] | None:
    row = session.get(ClinicSetting, SETTING_KEY)
    return row.value if row is not None and isinstance(row.value, dict) else None


def effective_rules(session: Session) -> Rules:
    """The rules in force: the admin's state windows, else the shipped ones; never past the
    federal floor. A stored set that no longer parses falls back to the defaults (only
    `set_state` writes it, after the same checks)."""
    stored = _stored(session)
    if stored is None:
        return _rules_of(json.dumps(default_states(), sort_keys=True))
    try:
        return _rules_of(json.dumps(stored, sort_keys=True))
    except InvalidRules:
        return _rules_of(json.dumps(default_states(), sort_keys=True))


def federal_week() -> Week:
    return parse_rules(_default_data()).federal


def rows(session: Session) -> list[StateRow]:
    """Every state with a rule of its own (the admin's or the shipped one), by name."""
    rules = effective_rules(session)
    shipped = parse_rules(_default_data())
    names = state_names()
    listed = sorted(rules.states, key=lambda code: names.get(code, code))
    return [
        StateRow(
            code=code,
            name=names.get(code, code),
            week=tuple(rules.window(code, day) for day in range(7)),
            default=(
                tuple(shipped.window(code, day) for day in range(7))
                if code in shipped.states
                else None
            ),
            edited=_week_text(rules.states[code]) != default_states().get(code),
        )
        for code in listed
    ]


def summarise(week: tuple[Window | None, ...] | Week) -> str:
    """A week in words, runs of days with one window together: "Mon-Fri 09:00-18:00; ..."."""
    parts: list[str] = []
    start = 0
    for day in range(1, 8):
        if day < 7 and week[day] == week[start]:
            continue
        days = DAY_LABELS[start][:3]
        if day - 1 > start:
            days += f"-{DAY_LABELS[day - 1][:3]}"
        window = week[start]
        parts.append(f"{days} {'no texts' if window is None else window_text(window)}")
        start = day
    if len(parts) == 1:
        return parts[0].replace("Mon-Sun", "Every day")
    return "; ".join(parts)


def _parse_time(field: str, label: str, raw: str) -> dt.time:
    try:
        return dt.time.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidQuietHours(
            field, f"{label}: {raw.strip() or 'an empty time'!r} is not a time like 09:00."
        ) from None


def check_week(state: str, days: Mapping[str, tuple[str, str] | None]) -> StateWeek:
    """A state's week from the form ({day: (from, until)} or None for no texting), checked
    against the federal floor; raises InvalidQuietHours for the first bad entry."""
    names = state_names()
    if state not in names:
        raise InvalidQuietHours("state", f"{state!r} is not a US state the service knows.")
    floor = federal_week()
    week: StateWeek = {}
    for index, day in enumerate(DAYS):
        label = f"{names[state]}, {DAY_LABELS[index]}"
        period = days.get(day)
        if period is None:
            week[day] = CLOSED
            continue
        start = _parse_time(f"from_{day}", label, period[0])
        end = _parse_time(f"until_{day}", label, period[1])
        if start >= end:
            raise InvalidQuietHours(
                f"from_{day}", f"{label}: {start:%H:%M} to {end:%H:%M} ends before it starts."
            )
        federal = floor[index]
        if federal is None:
            raise InvalidQuietHours(
                f"from_{day}", f"{label}: the federal rules allow no texts that day."
            )
        if start < federal.start or end > federal.end:
            raise InvalidQuietHours(
                f"from_{day}" if start < federal.start else f"until_{day}",
                f"{label}: {start:%H:%M}-{end:%H:%M} reaches past the federal window "
                f"({window_text(federal)}). A state's window can only be narrower: "
                "nothing was saved.",
            )
        week[day] = window_text(Window(start, end))
    if all(value == CLOSED for value in week.values()):
        raise InvalidQuietHours(
            "state",
            f"{names[state]}: at least one day must allow texts, or they would wait for ever.",
        )
    return week


def _store(
    session: Session,
    state: str,
    after: StateWeek | None,
    actor: audit.Actor,
) -> dict[str, Any] | None:
    current = _stored(session) or default_states()
    before = current.get(state)
    if before == after:
        return None
    updated = {code: week for code, week in current.items() if code != state}
    if after is not None:
        updated[state] = after
    parse_rules({**_default_data(), "state": updated})  # the whole set must still work
    store_override(session, SETTING_KEY, updated, default_states(), actor)
    change = {"before": before, "after": after}
    session.flush()
    audit.record(
        session, actor, "settings.changed", detail={"changes": {f"quiet_hours.{state}": change}}
    )
    return change


def set_state(
    session: Session,
    state: str,
    days: Mapping[str, tuple[str, str] | None],
    actor: audit.Actor,
) -> dict[str, Any] | None:
    """Store a state's week (not committed); returns {before, after}, or None if unchanged.

    Raises InvalidQuietHours for a bad entry, before anything is stored.
    """
    return _store(session, state, check_week(state, days), actor)


def reset_state(session: Session, state: str, actor: audit.Actor) -> dict[str, Any] | None:
    """Put a state back to its shipped rule, or to the federal window alone if it has none
    (not committed); returns {before, after}, or None if unchanged. Raises InvalidQuietHours
    for an unknown state."""
    if state not in state_names():
        raise InvalidQuietHours("state", f"{state!r} is not a US state the service knows.")
    return _store(session, state, default_states().get(state), actor)


def remove_state(session: Session, state: str, actor: audit.Actor) -> dict[str, Any] | None:
    """Drop a state's own rule: its numbers get the federal window (not committed). Raises
    InvalidQuietHours for an unknown state."""
    if state not in state_names():
        raise InvalidQuietHours("state", f"{state!r} is not a US state the service knows.")
    return _store(session, state, None, actor)


def week_of(session: Session, state: str) -> tuple[Window | None, ...]:
    """The effective window per weekday for a state's numbers (federal where it has no rule)."""
    rules = effective_rules(session)
    return tuple(rules.window(state, day) for day in range(7))
