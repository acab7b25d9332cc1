"""The clinic's opening hours (one period a weekday) and its times to first contact.

Both are clinic settings (domain/clinic_settings.py: the database over the environment's
BUSINESS_OPEN, BUSINESS_CLOSE, BUSINESS_DAYS and FIRST_CONTACT_* defaults). The escalation
clock counts "one business day" in these hours; the public pages say them in words.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from intake_service.config.escalation import DAYS, EscalationSettings

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
Period = tuple[dt.time, dt.time]
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class InvalidHours(ValueError):
    """Opening hours that cannot be used; `day` is the weekday's key (mon..sun) if one is."""

    def __init__(self, message: str, day: str | None = None) -> None:
        super().__init__(message)
        self.day = day


@dataclass(frozen=True)
class OpeningHours:
    """Monday first: each day's (opens, closes), or None when the clinic is closed that day."""

    days: tuple[Period | None, ...]

    @classmethod
    def from_limits(cls, limits: EscalationSettings) -> OpeningHours:
        """The environment's hours: the same period on each of BUSINESS_DAYS."""
        period = (limits.business_open, limits.business_close)
        return cls(tuple(period if day in limits.business_days else None for day in range(7)))

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> OpeningHours:
        """Hours as stored (see `to_json`); raises InvalidHours for anything else."""
        days: list[Period | None] = []
        for key, name in zip(DAYS, DAY_NAMES, strict=True):
            raw = value.get(key)
            if raw is None:
                days.append(None)
                continue
            if not isinstance(raw, list | tuple) or len(raw) != 2:
                raise InvalidHours(f"{name} needs an opening and a closing time.", key)
            opens, closes = (_time(str(part), name, key) for part in raw)
            if closes <= opens:
                raise InvalidHours(
                    f"{name} closes at {_clock(closes)}, before it opens at {_clock(opens)}; "
                    "the closing time must be later.",
                    key,
                )
            days.append((opens, closes))
        if not any(days):
            raise InvalidHours("The clinic must be open on at least one day.")
        return cls(tuple(days))

    def to_json(self) -> dict[str, list[str] | None]:
        return {
            key: None if period is None else [t.strftime("%H:%M") for t in period]
            for key, period in zip(DAYS, self.days, strict=True)
        }

    def groups(self) -> list[tuple[int, int, Period]]:
        """Runs of consecutive open days with the same hours: (first day, last day, period)."""
        runs: list[tuple[int, int, Period]] = []
        for day, period in enumerate(self.days):
            if period is None:
                continue
            if runs and runs[-1][1] == day - 1 and runs[-1][2] == period:
                runs[-1] = (runs[-1][0], day, period)
            else:
                runs.append((day, day, period))
        return runs

    def describe(self) -> str:
        """In English, as the public pages' footer says it: "Monday to Friday, 9 am to 5 pm"."""
        parts = []
        for first, last, (opens, closes) in self.groups():
            days = DAY_NAMES[first] if first == last else f"{DAY_NAMES[first]} to {DAY_NAMES[last]}"
            parts.append(f"{days}, {clock_words(opens)} to {clock_words(closes)}")
        return "; ".join(parts)


def _time(raw: str, name: str, key: str) -> dt.time:
    found = _TIME.match(raw.strip())
    if found is None:
        raise InvalidHours(f"{name}: {raw!r} is not a time; use 24-hour times such as 09:00.", key)
    return dt.time(int(found[1]), int(found[2]))


def _clock(value: dt.time) -> str:
    return value.strftime("%H:%M")


def clock_words(value: dt.time) -> str:
    """9 am, 5:30 pm, 12 pm (noon), 12 am (midnight): how the clinic says a time."""
    hour = value.hour % 12 or 12
    minutes = f":{value.minute:02d}" if value.minute else ""
    return f"{hour}{minutes} {'am' if value.hour < 12 else 'pm'}"


@dataclass(frozen=True)
class FirstContact:
    """How long each priority may wait for a person: minutes, or business days for the rest."""

    urgent_minutes: float
    high_minutes: float
    normal_business_days: int = 1

    @classmethod
    def from_limits(cls, limits: EscalationSettings) -> FirstContact:
        return cls(limits.urgent_minutes, limits.high_minutes, 1)


def add_business_days(
    start: dt.datetime, hours: OpeningHours, zone: zoneinfo.ZoneInfo, days: int = 1
) -> dt.datetime:
    """`start` plus `days` business days, each counted only while the clinic is open."""
    due = start
    for _ in range(max(1, days)):
        due = _add_business_day(due, hours, zone)
    return due


def _add_business_day(
    start: dt.datetime, hours: OpeningHours, zone: zoneinfo.ZoneInfo
) -> dt.datetime:
    """One business day: as many open hours as the day the count starts on (the day itself
    while it is still open, else the next open day), counted forward through open hours only.

    With the same hours every day this is "the same time on the next open day"; a lead that
    arrives while the clinic is closed is due at the close of the next open day.
    """
    remaining: dt.timedelta | None = None
    local = start.astimezone(zone)
    for _ in range(31):  # a month without open hours cannot be configured (from_json refuses)
        period = hours.days[local.weekday()]
        if period is not None:
            opens = dt.datetime.combine(local.date(), period[0], zone)
            closes = dt.datetime.combine(local.date(), period[1], zone)
            if local < closes:
                if remaining is None:
                    remaining = closes - opens
                begin = max(local, opens)
                if begin + remaining <= closes:
                    return (begin + remaining).astimezone(dt.UTC)
                remaining -= closes - begin
        local = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), zone)
    return (start + dt.timedelta(days=1)).astimezone(dt.UTC)
