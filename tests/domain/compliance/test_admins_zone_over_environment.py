"""The clinic's zone as the admin set it, not CLINIC_TIMEZONE, decides for a number that says
nothing of where its owner is: the contact policy's quiet hours and a reply's named times."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from flask import Flask

from intake_service.domain import clinic_settings
from intake_service.domain.compliance import policy
from intake_service.domain.compliance.audit import Actor
from intake_service.domain.leads import replies
from tests.domain.builders import database, settings_of

# A toll-free number: phonenumbers lists every US zone, so the clinic's zone decides.
TOLL_FREE = "+18005550199"
# 21:30 in New York, 18:30 in Los Angeles (the environment's zone).
EVENING = dt.datetime(2026, 12, 3, 2, 30, tzinfo=dt.UTC)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def set_zone(app: Flask, zone: str) -> None:
    with database(app).transaction() as session:
        clinic_settings.update(session, settings_of(app), {"timezone": zone}, Actor(None, "cli"))


def test_quiet_hours_for_an_unplaced_number_follow_the_admins_zone(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(QUIET_HOURS_ENABLED="true", CLINIC_TIMEZONE="America/Los_Angeles")
    db = database(app)
    with db.session() as session:
        assert policy.can_answer(session, TOLL_FREE, policy.Purpose.FOLLOW_UP, EVENING).allowed

    set_zone(app, "America/New_York")
    with db.session() as session:
        later = policy.can_answer(session, TOLL_FREE, policy.Purpose.FOLLOW_UP, EVENING)
    assert (later.allowed, later.reason) == (False, "quiet_hours")
    assert later.not_before is not None
    opens = later.not_before.astimezone(NEW_YORK)
    assert (opens.date(), opens.hour) == (dt.date(2026, 12, 3), 8)


def test_a_replys_times_are_read_in_the_admins_zone_for_an_unplaced_number(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(CLINIC_TIMEZONE="America/Los_Angeles")
    settings = settings_of(app)
    with database(app).session() as session:
        assert replies.patient_zone(session, TOLL_FREE, settings) == "America/Los_Angeles"
    set_zone(app, "America/Chicago")
    with database(app).session() as session:
        assert replies.patient_zone(session, TOLL_FREE, settings) == "America/Chicago"
        # A number that says where it is keeps its own zone.
        assert replies.patient_zone(session, "+12125550123", settings) == "America/New_York"
