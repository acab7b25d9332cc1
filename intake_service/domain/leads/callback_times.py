"""Read a time to call out of a patient's reply: "1", "morning", "after 5pm", "tomorrow afternoon",
"call me now", "mañana". Pure: the reply, the moment it came and the patient's zone in, a
callback ask (or None) out.

It errs toward seeing a time: a false one costs a coordinator a glance, a missed one leaves a
person waiting for a call nobody knows they asked for. Times without am/pm are read as a
clinic would hear them: 8 to 11 in the morning, 1 to 7 in the afternoon or evening.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass

# When a window starts and ends, patient's local time; a call asked for "in the evening" is
# due at its start.
WINDOWS = {
    "morning": (dt.time(9), dt.time(12)),
    "afternoon": (dt.time(12), dt.time(17)),
    "evening": (dt.time(17), dt.time(21)),
}
_WINDOW_WORDS = [
    (re.compile(r"\b(por|en) la manana\b|\bmornings?\b|\bmorn\b"), "morning"),
    (re.compile(r"\bafternoons?\b|\b(por|en) la tarde\b|\btarde\b|\blunch(time)?\b"), "afternoon"),
    (re.compile(r"\bevenings?\b|\btonight\b|\bnight\b|\b(por|en) la noche\b|\bnoche\b"), "evening"),
]
_NOW = re.compile(
    r"\b(now|asap|right away|as soon as possible|any ?time|whenever|ahora|cuando sea)\b"
)
_TODAY = re.compile(r"\b(today|tonight|hoy)\b")
# "mañana" alone is tomorrow; "la mañana" is the morning (handled as a window above).
_TOMORROW = re.compile(r"\b(tomorrow|tomorow|tmrw|tmr|pasado)\b|(?<!la )\bmanana\b")
_WEEKDAYS = {
    name: number
    for number, names in enumerate(
        (
            ("monday", "lunes"),
            ("tuesday", "martes"),
            ("wednesday", "miercoles"),
            ("thursday", "jueves"),
            ("friday", "viernes"),
            ("saturday", "sabado"),
            ("sunday", "domingo"),
        )
    )
    for name in names
}
_WEEKDAY = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")\b")
_CLOCK = re.compile(
    r"(?:\b(?P<prep>after|before|around|about|at|by|from|a las|despues de las)\s+)?"
    r"\b(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>a\.?m\.?|p\.?m\.?)?(?!\w)"
)
_NOON = re.compile(r"\b(noon|midday|mediodia)\b")  # read as 12:00, keeping "before" or "after"
_BARE_HOUR = re.compile(r"^\s*(\d{1,2})\s*(ish)?\s*$")


@dataclass(frozen=True)
class CallbackAsk:
    """A call the patient asked for: as soon as possible, or from `due_at` in `window`."""

    asap: bool
    window: str  # "morning" | "afternoon" | "evening" | "any"
    due_at: dt.datetime | None  # UTC; None: as soon as possible
    label: str  # how the team reads it: "tomorrow afternoon", "as soon as possible"


def _plain(text: str) -> str:
    # Accents off ("mañana" -> "manana", "miércoles" -> "miercoles"), lower case, one space.
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def _hour(hour: int, minute: int, half: str | None) -> dt.time | None:
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    elif 1 <= hour <= 7:
        hour += 12  # nobody asks for a call at 3 in the night
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return dt.time(hour, minute)


def _clock(text: str) -> tuple[dt.time, str] | None:
    """The time named, and how ("at", "after", "before"...), if the reply names one."""
    bare = _BARE_HOUR.match(text)
    if bare:
        found = _hour(int(bare[1]), 0, None)
        return (found, "at") if found else None
    for match in _CLOCK.finditer(text):
        prep, half, minute = match["prep"], match["half"], match["minute"]
        # A lone number is a time only with am/pm, minutes or a preposition: "2 kids" is not.
        if not (prep or half or minute):
            continue
        found = _hour(int(match["hour"]), int(minute or 0), half)
        if found is not None:
            how = {"despues de las": "after", "a las": "at", "about": "around", "from": "after"}
            return found, how.get(prep or "at", prep or "at")
    return None


def _window_of(moment: dt.time) -> str:
    for name, (start, end) in WINDOWS.items():
        if start <= moment < end:
            return name
    return "morning" if moment < WINDOWS["morning"][0] else "evening"


def _day(text: str, today: dt.date) -> tuple[dt.date, str] | None:
    if _TOMORROW.search(text):
        return today + dt.timedelta(days=1), "tomorrow"
    weekday = _WEEKDAY.search(text)
    if weekday:
        number = _WEEKDAYS[weekday[1]]
        ahead = (number - today.weekday()) % 7 or 7  # "Monday" said on a Monday: next week
        day = today + dt.timedelta(days=ahead)
        return day, day.strftime("%A")
    if _TODAY.search(text):
        return today, "today"
    return None


def _format_time(moment: dt.time) -> str:
    if moment == dt.time(12):
        return "noon"
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes} {'am' if moment.hour < 12 else 'pm'}"


def parse(text: str, now: dt.datetime, zone: str) -> CallbackAsk | None:
    """The callback a reply asks for, read in the patient's `zone`; None if it names no time."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    plain = _NOON.sub("12:00", _plain(text))
    tz = zoneinfo.ZoneInfo(zone)
    local_now = now.astimezone(tz)
    day = _day(plain, local_now.date())
    clock = _clock(plain)
    window = next((name for pattern, name in _WINDOW_WORDS if pattern.search(plain)), None)
    if clock and window is None:
        # "before 5" asks for the window that ends by then, not the one starting at 5.
        moment = clock[0]
        if clock[1] == "before":
            moment = (dt.datetime.combine(dt.date.min, moment) - dt.timedelta(minutes=1)).time()
        window = _window_of(moment)
    if day is None and clock is None and window is None:
        if _NOW.search(plain):
            return CallbackAsk(True, "any", None, "as soon as possible")
        return None
    start = clock[0] if clock and clock[1] != "before" else None
    if start is None:
        start = WINDOWS[window][0] if window else WINDOWS["morning"][0]
    date = day[0] if day else local_now.date()
    due = dt.datetime.combine(date, start, tzinfo=tz)
    if due <= local_now:
        end = WINDOWS[window][1] if window else None
        # "At 9" said at 11 means tomorrow at 9; "after 5" or "evening" said at 6 means now.
        open_ended = clock is None or clock[1] in ("after", "before")
        if day is not None or (open_ended and end is not None and local_now.time() < end):
            due = local_now
        else:
            due += dt.timedelta(days=1)
    return CallbackAsk(False, window or "any", due.astimezone(dt.UTC), _label(day, clock, window))


def _label(
    day: tuple[dt.date, str] | None, clock: tuple[dt.time, str] | None, window: str | None
) -> str:
    if day and day[1] == "today" and window == "evening" and not clock:
        return "tonight"
    parts = [day[1]] if day else []
    if clock:
        parts.append(f"{clock[1]} {_format_time(clock[0])}")
    elif window:
        parts.append(window if day else f"in the {window}")
    return " ".join(parts)
