"""Quiet hours by the recipient's own clock: zone and state from the number, the federal floor
and the stricter state windows, DST, the spread at the window's opening, and the rules as data.

The property tests check the module against an oracle written here from DOMAIN.md, not from
the module's rule file, so an edit that loosened the shipped rules would be caught.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from phonenumbers import geocoder

from intake_service.domain.compliance import quiet_hours
from intake_service.domain.compliance.quiet_hours import (
    SPREAD,
    InvalidRules,
    is_allowed,
    next_allowed,
    next_opening,
    parse_rules,
    recipient_of,
)

CLINIC_TZ = "America/Los_Angeles"
UTC = dt.UTC

# DOMAIN.md, "Quiet hours": (start hour, end hour) per weekday, Monday first.
FEDERAL = [(8, 21)] * 7
STATE_WINDOWS = {
    **{state: [(8, 20)] * 7 for state in ("FL", "MD", "MS", "NJ", "OK")},
    "CT": [(9, 20)] * 7,
    "TX": [(9, 21)] * 6 + [(12, 21)],
    "RI": [(9, 18)] * 5 + [(10, 17)] * 2,
}
AREA_CODES = quiet_hours.area_code_states()


def oracle_allows(phone: str, when: dt.datetime) -> bool:
    """DOMAIN.md's rule, independently: inside the window in every zone the number may be in."""
    recipient = recipient_of(phone, CLINIC_TZ)
    week = STATE_WINDOWS.get(recipient.state or "", FEDERAL)
    for name in recipient.zones:
        local = when.astimezone(zoneinfo.ZoneInfo(name))
        start, end = week[local.weekday()]
        if not (start <= local.hour < end):
            return False
    return True


def at(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone))  # type: ignore[misc]


# --- strategies ----------------------------------------------------------------------------

STATES_WITH_RULES = sorted(STATE_WINDOWS)


@st.composite
def us_numbers(draw: st.DrawFn) -> str:
    """A valid US number in any area code the data knows, stricter states drawn often."""
    if draw(st.booleans()):
        state = draw(st.sampled_from(STATES_WITH_RULES))
        npa = draw(st.sampled_from(sorted(n for n, s in AREA_CODES.items() if s == state)))
    else:
        npa = draw(st.sampled_from(sorted(AREA_CODES)))
    exchange = draw(st.integers(200, 999))
    line = draw(st.integers(0, 9999))
    phone = f"+1{npa}{exchange}{line:04d}"
    assume(phonenumbers.is_valid_number(phonenumbers.parse(phone)))
    return phone


def _dst_changes() -> list[dt.datetime]:
    """US DST changes 2026-2028 (second Sunday of March, first Sunday of November), 10:00 UTC."""
    days = []
    for year in (2026, 2027, 2028):
        march = dt.date(year, 3, 8)
        november = dt.date(year, 11, 1)
        days.append(march + dt.timedelta(days=(6 - march.weekday()) % 7))
        days.append(november + dt.timedelta(days=(6 - november.weekday()) % 7))
    return [dt.datetime.combine(day, dt.time(10), tzinfo=UTC) for day in days]


any_time = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2028, 12, 31), timezones=st.just(UTC)
)
around_dst = st.builds(
    lambda change, minutes: change + dt.timedelta(minutes=minutes),
    st.sampled_from(_dst_changes()),
    st.integers(-36 * 60, 36 * 60),
)
times = st.one_of(any_time, around_dst)


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(phone=us_numbers(), now=times, key=st.integers(1, 10**9))
def test_a_deferred_text_goes_inside_the_recipients_window_and_is_never_dropped(
    phone: str, now: dt.datetime, key: int
) -> None:
    when = next_allowed(phone, now, CLINIC_TZ, spread_key=key)

    assert when >= now
    assert oracle_allows(phone, when), f"{phone} at {when.isoformat()}"
    # Never dropped: the longest night (Saturday 17:00 to Sunday 10:00 in RI) is well under this.
    assert when - now < dt.timedelta(days=2)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(phone=us_numbers(), now=times)
def test_inside_the_window_a_text_goes_at_once_and_outside_it_waits_for_the_first_opening(
    phone: str, now: dt.datetime
) -> None:
    opening = next_opening(phone, now, CLINIC_TZ)

    if oracle_allows(phone, now):
        assert opening == now
        assert next_allowed(phone, now, CLINIC_TZ, spread_key=7) == now
    else:
        assert opening > now
        # It is the first allowed moment: a minute earlier was still quiet hours.
        assert not oracle_allows(phone, opening - dt.timedelta(minutes=1)) or (
            opening - dt.timedelta(minutes=1) < now
        )
        assert oracle_allows(phone, opening)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(phone=us_numbers(), now=times, key=st.integers(1, 10**9))
def test_deferred_texts_spread_over_the_first_minutes_of_the_window(
    phone: str, now: dt.datetime, key: int
) -> None:
    assume(not oracle_allows(phone, now))
    opening = next_opening(phone, now, CLINIC_TZ)

    when = next_allowed(phone, now, CLINIC_TZ, spread_key=key)

    assert opening <= when < opening + SPREAD
    assert when == next_allowed(phone, now, CLINIC_TZ, spread_key=key)  # same message, same time


def test_a_night_backlog_does_not_all_open_in_one_second() -> None:
    night = at("America/Los_Angeles", 2026, 12, 2, 23, 30)
    times_ = {next_allowed("+12133734253", night, CLINIC_TZ, spread_key=i) for i in range(200)}

    assert len(times_) > 100
    assert min(times_) >= at("America/Los_Angeles", 2026, 12, 3, 8)
    assert max(times_) < at("America/Los_Angeles", 2026, 12, 3, 8) + SPREAD


# --- the rules of DOMAIN.md, case by case --------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "now", "expected"),
    [
        # California: federal 8-21.
        ("+12133734253", at("America/Los_Angeles", 2026, 12, 2, 7, 59), (2026, 12, 2, 8)),
        ("+12133734253", at("America/Los_Angeles", 2026, 12, 2, 21, 0), (2026, 12, 3, 8)),
        # Florida (Miami): until 20:00.
        ("+13055551234", at("America/New_York", 2026, 12, 2, 20, 0), (2026, 12, 3, 8)),
        # Connecticut: from 9:00.
        ("+12035551234", at("America/New_York", 2026, 12, 2, 8, 30), (2026, 12, 2, 9)),
        # Texas (Dallas): Sundays from noon, other days from 9.
        ("+12145551234", at("America/Chicago", 2026, 12, 6, 9, 30), (2026, 12, 6, 12)),
        ("+12145551234", at("America/Chicago", 2026, 12, 7, 8, 0), (2026, 12, 7, 9)),
        # Rhode Island: 9-18 on weekdays, 10-17 at weekends.
        ("+14015551234", at("America/New_York", 2026, 12, 4, 18, 0), (2026, 12, 5, 10)),
        ("+14015551234", at("America/New_York", 2026, 12, 5, 17, 0), (2026, 12, 6, 10)),
        ("+14015551234", at("America/New_York", 2026, 12, 6, 17, 0), (2026, 12, 7, 9)),
    ],
)
def test_state_windows_of_domain_md(
    phone: str, now: dt.datetime, expected: tuple[int, ...]
) -> None:
    zone = recipient_of(phone, CLINIC_TZ).zones[0]

    assert next_opening(phone, now, CLINIC_TZ) == at(zone, *expected)


def test_inside_the_window_nothing_waits() -> None:
    now = at("America/Chicago", 2026, 12, 6, 12, 0)  # Sunday noon in Texas

    assert is_allowed("+12145551234", now, CLINIC_TZ)
    assert next_allowed("+12145551234", now, CLINIC_TZ, spread_key=1) == now


def test_the_window_opens_at_8_local_on_both_dst_change_days() -> None:
    for day in (dt.date(2027, 3, 14), dt.date(2027, 11, 7)):  # spring forward, fall back
        night = dt.datetime.combine(day, dt.time(1, 30), tzinfo=zoneinfo.ZoneInfo(CLINIC_TZ))
        opening = next_opening("+12133734253", night, CLINIC_TZ)
        assert opening.astimezone(zoneinfo.ZoneInfo(CLINIC_TZ)).time() == dt.time(8)
        assert opening.astimezone(zoneinfo.ZoneInfo(CLINIC_TZ)).date() == day


def test_a_number_spanning_two_zones_waits_for_the_window_in_both() -> None:
    # 775 (Nevada) reaches Pacific and Mountain time: 8:00 in Reno is 9:00 in Boise's zone,
    # and 20:30 Mountain is still 19:30 Pacific but 21:00 Mountain closes it.
    recipient = recipient_of("+17755551234", CLINIC_TZ)
    assert set(recipient.zones) == {"America/Boise", "America/Los_Angeles"}

    opening = next_opening("+17755551234", at("America/Boise", 2026, 12, 2, 6), CLINIC_TZ)
    assert opening == at("America/Los_Angeles", 2026, 12, 2, 8)
    assert not is_allowed("+17755551234", at("America/Boise", 2026, 12, 2, 21, 30), CLINIC_TZ)


@pytest.mark.parametrize(
    "phone",
    [
        "+18005551234",  # toll-free: no place
        "not a number",
        None,
    ],
)
def test_a_number_that_says_nothing_about_its_place_uses_the_clinics_zone(
    phone: str | None,
) -> None:
    recipient = recipient_of(phone, "America/New_York")

    assert recipient.zones == ("America/New_York",)
    assert recipient.state is None
    assert next_opening(phone, at("America/New_York", 2026, 12, 2, 7), "America/New_York") == at(
        "America/New_York", 2026, 12, 2, 8
    )


def test_zone_and_state_come_from_the_area_code() -> None:
    assert recipient_of("+12133734253", CLINIC_TZ).zones == ("America/Los_Angeles",)
    assert recipient_of("+12133734253", CLINIC_TZ).state == "CA"
    assert recipient_of("+14015551234", CLINIC_TZ).state == "RI"
    assert recipient_of("+18504441234", CLINIC_TZ).state == "FL"  # Pensacola: Central time
    assert recipient_of("+18504441234", CLINIC_TZ).zones == ("America/Chicago",)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_allowed("+12133734253", dt.datetime(2026, 12, 2, 12), CLINIC_TZ)


# --- the data ------------------------------------------------------------------------------

_STATE_NAMES = {
    "Washington State": "WA",
    "Washington D.C.": "DC",
    "District of Columbia": "DC",
}


def test_every_area_code_row_agrees_with_the_phone_number_geocoder() -> None:
    us_state_names = {
        name: code
        for code, name in (
            line.split(",", 1)
            for line in (Path(__file__).parent / "us_states.csv").read_text().splitlines()
        )
    }
    assert len(AREA_CODES) > 300
    for npa, state in AREA_CODES.items():
        number = phonenumbers.parse(f"+1{npa}2345678")
        assert phonenumbers.region_code_for_number(number) == "US", npa
        where = geocoder.description_for_number(number, "en")
        match = re.search(r", ([A-Z]{2})$", where)
        found = match[1] if match else us_state_names.get(where) or _STATE_NAMES.get(where)
        assert found in (None, state), f"{npa}: table says {state}, geocoder says {where!r}"


def test_the_shipped_rules_are_those_of_domain_md() -> None:
    rules = quiet_hours.load_rules()
    for weekday in range(7):
        floor = rules.window(None, weekday)
        assert floor is not None and (floor.start.hour, floor.end.hour) == FEDERAL[weekday]
        for state, week in STATE_WINDOWS.items():
            window = rules.window(state, weekday)
            assert window is not None
            assert (window.start.hour, window.end.hour) == week[weekday], (state, weekday)


def test_a_state_window_edited_wider_than_the_federal_one_stays_federal() -> None:
    rules = parse_rules(
        {"federal": {"every_day": "08:00-21:00"}, "state": {"XX": {"every_day": "06:00-23:30"}}}
    )

    window = rules.window("XX", 0)
    assert window is not None and (window.start, window.end) == (dt.time(8), dt.time(21))


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"federal": {"every_day": "8-21"}}, "not like 08:00-21:00"),
        ({"federal": {"every_day": "21:00-08:00"}}, "ends before it starts"),
        ({"federal": {"every_day": "08:00-25:00"}}, "not a time of day"),
        ({"federal": {"weekdays": "08:00-21:00"}}, "no window for saturday"),
        ({"federal": {"every_day": "closed"}}, "no day of the week"),
        (
            {
                "federal": {"every_day": "08:00-21:00"},
                "state": {"ZZ": {"every_day": "06:00-07:00"}},
            },
            "no day of the week",
        ),
        ({"federal": {"every_day": "08:00-21:00", "holidays": "closed"}}, "unknown key"),
        ({"federal": {"every_day": "08:00-21:00"}, "state": {"Texas": {}}}, "two capital letters"),
    ],
)
def test_rules_an_admin_could_break_are_refused_with_a_reason(
    data: dict[str, object], complaint: str
) -> None:
    with pytest.raises(InvalidRules, match=complaint):
        parse_rules(data)  # type: ignore[arg-type]


def test_a_closed_day_waits_for_the_next_open_one(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[federal]\nevery_day = "08:00-21:00"\nsunday = "closed"\n')
    rules = quiet_hours.load_rules(path)
    saturday_night = at(CLINIC_TZ, 2026, 12, 5, 22)

    assert next_opening("+12133734253", saturday_night, CLINIC_TZ, rules) == at(
        CLINIC_TZ, 2026, 12, 7, 8
    )
