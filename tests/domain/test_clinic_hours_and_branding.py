"""Opening hours per weekday and "one business day" in them; the logo's content check and the
primary colour's contrast. Pure functions: no app."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from intake_service.config.escalation import EscalationSettings
from intake_service.domain import branding
from intake_service.domain.clinic_hours import InvalidHours, OpeningHours, add_business_days
from tests.support import images

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
# Monday to Thursday 9 to 5, Friday 9 to 1, Saturday 10 to 2, Sunday closed.
SHORT_FRIDAY = OpeningHours.from_json(
    {
        **{d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu")},
        "fri": ["09:00", "13:00"],
        "sat": ["10:00", "14:00"],
    }
)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """December 2026: Monday the 7th is day 7."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=LA)


@pytest.mark.parametrize(
    ("arrived", "due"),
    [
        (at(10, 16), at(12, 13)),  # Thursday 4 pm: 1 h Thursday, Friday's 4, Saturday's 3 h
        (at(11, 11), at(12, 12)),  # Friday 11 am counts Friday's 4 h: 2 h then 2 h Saturday
        (at(11, 14), at(12, 14)),  # Friday after closing: all of Saturday
        (at(13, 9), at(14, 17)),  # Sunday, closed: Monday's whole day
        (at(7, 7), at(7, 17)),  # Monday before opening: Monday's whole day
    ],
)
def test_a_business_day_counts_the_open_hours_of_the_day_it_starts_on(
    arrived: dt.datetime, due: dt.datetime
) -> None:
    assert add_business_days(arrived, SHORT_FRIDAY, LA) == due


def test_two_business_days_and_the_same_hours_every_day() -> None:
    weekdays = OpeningHours.from_limits(EscalationSettings())
    assert add_business_days(at(11, 15), weekdays, LA, days=2) == at(15, 15)  # Fri to Tue
    # Across the end of daylight saving time the hours stay the clinic's wall-clock hours.
    autumn = dt.datetime(2026, 10, 30, 15, 0, tzinfo=LA)  # Friday; clocks go back on Sunday
    assert add_business_days(autumn, weekdays, LA) == dt.datetime(2026, 11, 2, 15, 0, tzinfo=LA)


def test_hours_are_described_as_the_pages_say_them() -> None:
    assert OpeningHours.from_limits(EscalationSettings()).describe() == (
        "Monday to Friday, 9 am to 5 pm"
    )
    assert SHORT_FRIDAY.describe() == (
        "Monday to Thursday, 9 am to 5 pm; Friday, 9 am to 1 pm; Saturday, 10 am to 2 pm"
    )
    evenings = OpeningHours.from_json({"tue": ["12:00", "20:30"], "thu": ["12:00", "20:30"]})
    assert evenings.describe() == "Tuesday, 12 pm to 8:30 pm; Thursday, 12 pm to 8:30 pm"


@pytest.mark.parametrize(
    ("value", "words", "day"),
    [
        ({"mon": ["17:00", "09:00"]}, "Monday closes at 09:00, before it opens at 17:00", "mon"),
        ({"tue": ["9", "17:00"]}, "Tuesday: '9' is not a time", "tue"),
        ({"wed": ["09:00"]}, "Wednesday needs an opening and a closing time", "wed"),
        ({"thu": ["24:00", "25:00"]}, "is not a time", "thu"),
        ({}, "open on at least one day", None),
    ],
)
def test_unusable_hours_are_refused_naming_the_day(
    value: dict[str, list[str]], words: str, day: str | None
) -> None:
    with pytest.raises(InvalidHours, match=words) as refused:
        OpeningHours.from_json(value)
    assert refused.value.day == day


def test_only_png_and_jpeg_by_their_content() -> None:
    assert branding.sniff(images.png()) == "image/png"
    assert branding.sniff(images.jpeg_start()) == "image/jpeg"
    for data in (
        b"<svg onload=alert(1)>",
        b"GIF89a....",
        b"\x89PNG\r\n\x1a\nnot a chunk",
        b"%PDF-1.7",
    ):
        with pytest.raises(branding.InvalidLogo):
            branding.sniff(data)


@pytest.mark.parametrize(
    ("colour", "ratio"),
    [("#ffffff", 1.0), ("#000000", 21.0), ("#0b4f8a", 8.4), ("#767676", 4.5), ("#777777", 4.5)],
)
def test_contrast_of_white_text_follows_wcag(colour: str, ratio: float) -> None:
    assert round(branding.contrast_with_white(colour), 1) == ratio


def test_a_colour_white_text_cannot_be_read_on_is_refused() -> None:
    assert branding.check_colour("#767676") == "#767676"  # 4.54:1, the lightest grey that passes
    with pytest.raises(branding.InvalidColour, match=r"contrast of 4\.5:1; WCAG AA"):
        branding.check_colour("#777777")  # 4.48:1, shown rounded, still refused
    assert branding.check_colour(" 048 ") == "#004488"
    assert branding.darker("#0b4f8a") == "#083b68"
