"""Quiet hours in the recipient's own local time: pure functions over the rules in data/.

The recipient's zone comes from the phone number (phonenumbers' time-zone data) and, for a US
number, the state from its area code (data/us_area_codes.csv); an unknown number falls back to
the clinic's zone and the federal window. Where a number's area code spans several zones the
text must be inside the window in every one of them: the patient could be in any.

The windows themselves are data (data/quiet_hours.toml) an admin can edit; a state window is
always intersected with the federal one, so editing can tighten the rules but never widen them
past the federal floor.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers
from phonenumbers import timezone as phone_timezones

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_RULES_PATH = DATA / "quiet_hours.toml"
AREA_CODES_PATH = DATA / "us_area_codes.csv"
# Texts deferred to a window's opening are spread over this much of it, so a night's backlog
# does not hit the carrier (about one text a second per long code) in one burst.
SPREAD = dt.timedelta(minutes=10)
# How far ahead an opening is looked for: every rule set is checked to open within a week.
_HORIZON_DAYS = 9
# phonenumbers lists every zone of a country when it cannot place a number (toll-free, mobile
# ranges without geography); zones further apart than this cannot share a texting window, so
# such a number is treated as unknown and the clinic's zone decides.
_MAX_ZONE_SPAN = dt.timedelta(hours=3)
_REFERENCE_DAYS = (
    dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC),
    dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC),
)
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class InvalidRules(ValueError):
    """A quiet-hours rule file that cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class Window:
    """Texting allowed from `start` (included) to `end` (excluded), local wall-clock time."""

    start: dt.time
    end: dt.time

    def contains(self, moment: dt.time) -> bool:
        return self.start <= moment < self.end


Week = tuple[Window | None, ...]  # Monday first; None is a day with no texting


@dataclass(frozen=True)
class Rules:
    federal: Week
    states: Mapping[str, Week]

    def window(self, state: str | None, weekday: int) -> Window | None:
        """The effective window for a state (or none) on a weekday: federal ∩ state."""
        floor = self.federal[weekday]
        week = self.states.get(state) if state else None
        if week is None or floor is None:
            return floor
        stricter = week[weekday]
        if stricter is None:
            return None
        start, end = max(floor.start, stricter.start), min(floor.end, stricter.end)
        return Window(start, end) if start < end else None


@dataclass(frozen=True)
class Recipient:
    """Where a phone number's owner is, as far as the number tells."""

    zones: tuple[str, ...]  # IANA zones; the clinic's when the number says nothing
    state: str | None  # two-letter US state (or DC) from the area code
    region: str | None  # ISO region of the number ("US", "CA", "PR"...)


# --- the rules as data --------------------------------------------------------------------------


def _parse_window(where: str, text: str) -> Window | None:
    if text.strip().lower() == "closed":
        return None
    match = _SPAN.match(text.strip())
    if match is None:
        raise InvalidRules(f"{where}: {text!r} is not like 08:00-21:00 or closed")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start, end = dt.time(h1, m1), dt.time(h2, m2)
    except ValueError:
        raise InvalidRules(f"{where}: {text!r} is not a time of day") from None
    if start >= end:
        raise InvalidRules(f"{where}: {text!r} ends before it starts")
    return Window(start, end)


def _parse_week(where: str, table: Mapping[str, Any], fallback: Week | None) -> Week:
    known = {"every_day", "weekdays", "weekends", *_DAY_NAMES}
    unknown = sorted(set(table) - known)
    if unknown:
        raise InvalidRules(f"{where}: unknown key {unknown[0]!r}")
    days: list[Window | None] = []
    for weekday, name in enumerate(_DAY_NAMES):
        group = "weekends" if weekday >= 5 else "weekdays"
        for key in (name, group, "every_day"):
            if key in table:
                days.append(_parse_window(f"{where}.{key}", str(table[key])))
                break
        else:
            if fallback is None:
                raise InvalidRules(f"{where}: no window for {name}")
            days.append(fallback[weekday])
    return tuple(days)


def parse_rules(data: Mapping[str, Any]) -> Rules:
    """Rules from the TOML structure; raises InvalidRules."""
    federal = _parse_week("federal", data.get("federal", {}), None)
    states: dict[str, Week] = {}
    for state, table in data.get("state", {}).items():
        if not re.fullmatch(r"[A-Z]{2}", state):
            raise InvalidRules(f"state.{state}: states are two capital letters, such as TX")
        states[state] = _parse_week(f"state.{state}", table, federal)
    rules = Rules(federal, states)
    for state in (None, *states):
        if all(rules.window(state, day) is None for day in range(7)):
            # A rule set that never opens would hold texts forever: refuse it instead.
            raise InvalidRules(f"{state or 'federal'}: no day of the week allows texting")
    return rules


@functools.cache
def _rules_at(path: Path) -> Rules:
    with path.open("rb") as handle:
        return parse_rules(tomllib.load(handle))


def load_rules(path: Path | None = None) -> Rules:
    """The rules in force (read once per path); raises InvalidRules."""
    return _rules_at(path or DEFAULT_RULES_PATH)


@functools.cache
def _area_codes() -> dict[int, str]:
    with AREA_CODES_PATH.open(newline="") as handle:
        rows = csv.reader(line for line in handle if not line.startswith("#"))
        next(rows)  # header
        return {int(npa): state for npa, state in rows}


def area_code_states() -> dict[int, str]:
    """Every US area code the data knows, with its state."""
    return dict(_area_codes())


# --- where the recipient is -------------------------------------------------------------------


def _valid_zones(names: tuple[str, ...]) -> tuple[str, ...]:
    zones = []
    for name in names:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue  # phonenumbers says "Etc/Unknown" when it does not know
        zones.append(name)
    return tuple(zones)


def _span(zones: tuple[str, ...]) -> dt.timedelta:
    """How far apart the zones' UTC offsets are, in winter or in summer, whichever is more."""
    widest = dt.timedelta(0)
    for moment in _REFERENCE_DAYS:
        offsets = [
            moment.astimezone(zoneinfo.ZoneInfo(z)).utcoffset() or dt.timedelta(0) for z in zones
        ]
        widest = max(widest, max(offsets) - min(offsets))
    return widest


@functools.lru_cache(maxsize=4096)
def recipient_of(phone: str | None, clinic_tz: str) -> Recipient:
    """The zones, state and region a phone number points to; the clinic's zone when unknown."""
    try:
        number = phonenumbers.parse(phone or "", None)
    except phonenumbers.NumberParseException:
        return Recipient((clinic_tz,), None, None)
    region = phonenumbers.region_code_for_number(number)
    zones = _valid_zones(tuple(phone_timezones.time_zones_for_number(number)))
    if not zones or _span(zones) > _MAX_ZONE_SPAN:
        zones = (clinic_tz,)
    state = None
    if region == "US" and number.national_number:
        state = _area_codes().get(number.national_number // 10**7)  # the area code (NPA)
    return Recipient(zones, state, region)


# --- when a text may go -----------------------------------------------------------------------


def _inside(rules: Rules, recipient: Recipient, when: dt.datetime) -> bool:
    for name in recipient.zones:
        local = when.astimezone(zoneinfo.ZoneInfo(name))
        window = rules.window(recipient.state, local.weekday())
        if window is None or not window.contains(local.time().replace(tzinfo=None)):
            return False
    return True


def _openings(rules: Rules, recipient: Recipient, now: dt.datetime) -> list[dt.datetime]:
    """Every window opening after `now` in each of the recipient's zones, in time order."""
    found = []
    for name in recipient.zones:
        zone = zoneinfo.ZoneInfo(name)
        today = now.astimezone(zone).date()
        for offset in range(-1, _HORIZON_DAYS):
            day = today + dt.timedelta(days=offset)
            window = rules.window(recipient.state, day.weekday())
            if window is None:
                continue
            # A start inside a DST gap resolves to the later wall time: later, never earlier.
            opening = dt.datetime.combine(day, window.start, tzinfo=zone).astimezone(dt.UTC)
            if opening > now:
                found.append(opening)
    return sorted(found)


def _require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("quiet hours need a timezone-aware time")


def is_allowed(
    phone: str | None, when: dt.datetime, clinic_tz: str, rules: Rules | None = None
) -> bool:
    """True when a text to `phone` at `when` is inside the recipient's window."""
    _require_aware(when)
    return _inside(rules or load_rules(), recipient_of(phone, clinic_tz), when)


def _next_opening(rules: Rules, recipient: Recipient, now: dt.datetime) -> dt.datetime:
    if _inside(rules, recipient, now):
        return now
    # The window common to all zones opens when the last of them opens: one of these instants.
    for opening in _openings(rules, recipient, now):
        if _inside(rules, recipient, opening):
            return opening
    if len(recipient.zones) > 1:
        # Zones too far apart to share a window (not a US area code): the first zone decides.
        first = Recipient(recipient.zones[:1], recipient.state, recipient.region)
        return _next_opening(rules, first, now)
    raise InvalidRules("the quiet-hours rules never open for this recipient")


def next_opening(
    phone: str | None, now: dt.datetime, clinic_tz: str, rules: Rules | None = None
) -> dt.datetime:
    """`now` if inside the window, else the first moment the window opens; raises InvalidRules."""
    _require_aware(now)
    return _next_opening(rules or load_rules(), recipient_of(phone, clinic_tz), now)


def spread_of(key: object) -> dt.timedelta:
    """A fixed offset within SPREAD for `key`: the same message always gets the same one."""
    digest = hashlib.sha256(str(key).encode()).digest()
    return dt.timedelta(seconds=int.from_bytes(digest[:8], "big") % int(SPREAD.total_seconds()))


def next_allowed(
    phone: str | None,
    now: dt.datetime,
    clinic_tz: str,
    spread_key: object = None,
    rules: Rules | None = None,
) -> dt.datetime:
    """When a text to `phone` may go: `now` inside the window, else the next opening plus a
    spread derived from `spread_key` (the message id; the phone if None). Raises InvalidRules.
    """
    rules = rules or load_rules()
    opening = next_opening(phone, now, clinic_tz, rules)
    if opening == now:
        return now
    spread = opening + spread_of(phone if spread_key is None else spread_key)
    # A window shorter than the spread (an admin's edit) must still be hit, not overshot.
    return spread if is_allowed(phone, spread, clinic_tz, rules) else opening
