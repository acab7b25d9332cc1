"""Reading a time to call out of a reply, in the patient's own zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from intake_service.domain.leads.callback_times import parse

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
# Wednesday 2 December 2026, 11:00 in Los Angeles.
NOW = dt.datetime(2026, 12, 2, 11, 0, tzinfo=LA)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LA)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("reply", "window", "due", "label"),
    [
        ("1", "afternoon", local(2026, 12, 2, 13), "at 1 pm"),
        ("morning", "morning", NOW, "in the morning"),  # it is the morning now: call now
        ("after 5pm", "evening", local(2026, 12, 2, 17), "after 5 pm"),
        ("After 5", "evening", local(2026, 12, 2, 17), "after 5 pm"),
        ("evening", "evening", local(2026, 12, 2, 17), "in the evening"),
        ("Evenings are best, thanks!", "evening", local(2026, 12, 2, 17), "in the evening"),
        ("tomorrow afternoon", "afternoon", local(2026, 12, 3, 12), "tomorrow afternoon"),
        ("mañana", "any", local(2026, 12, 3, 9), "tomorrow"),
        ("Mañana por la tarde", "afternoon", local(2026, 12, 3, 12), "tomorrow afternoon"),
        ("por la mañana", "morning", NOW, "in the morning"),
        ("Friday at 10:30", "morning", local(2026, 12, 4, 10, 30), "Friday at 10:30 am"),
        ("wednesday", "any", local(2026, 12, 9, 9), "Wednesday"),  # said on a Wednesday
        ("17:00", "evening", local(2026, 12, 2, 17), "at 5 pm"),
        ("noon", "afternoon", local(2026, 12, 2, 12), "at noon"),
        ("before noon", "morning", NOW, "before noon"),
        ("tonight", "evening", local(2026, 12, 2, 17), "tonight"),
        ("Can you call around 4?", "afternoon", local(2026, 12, 2, 16), "around 4 pm"),
        ("9am", "morning", local(2026, 12, 3, 9), "at 9 am"),  # 9 has passed: tomorrow
        ("hoy a las 6", "evening", local(2026, 12, 2, 18), "today at 6 pm"),
    ],
)
def test_replies_naming_a_time_become_a_callback_at_that_time(
    reply: str, window: str, due: dt.datetime, label: str
) -> None:
    ask = parse(reply, NOW, "America/Los_Angeles")

    assert ask is not None, reply
    assert (ask.asap, ask.window, ask.label) == (False, window, label)
    assert ask.due_at == due.astimezone(dt.UTC)


@pytest.mark.parametrize("reply", ["call me now", "ASAP please", "any time", "ahora"])
def test_call_me_now_asks_for_a_call_as_soon_as_possible(reply: str) -> None:
    ask = parse(reply, NOW, "America/Los_Angeles")

    assert ask is not None
    assert (ask.asap, ask.due_at, ask.label) == (True, None, "as soon as possible")


@pytest.mark.parametrize(
    "reply", ["thanks!", "ok", "I have 2 kids", "Yes please call", "who is this?", ""]
)
def test_replies_naming_no_time_ask_for_no_callback_time(reply: str) -> None:
    assert parse(reply, NOW, "America/Los_Angeles") is None


def test_times_are_the_patients_own() -> None:
    ask = parse("after 5pm", NOW, "America/New_York")  # 14:00 in New York

    assert ask is not None
    assert ask.due_at == dt.datetime(2026, 12, 2, 17, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
