"""/admin/settings/quiet-hours: the per-state texting windows as data an admin edits.

A tightened window holds texts planned after it; a window past the federal floor is refused
and stores nothing; every change is an audit row with before and after.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.compliance import quiet_hour_rules
from intake_service.domain.compliance.policy import Purpose, can_contact
from intake_service.models import AuditEvent, ClinicSetting, Lead, MessageStatus
from tests.domain.builders import PATIENT_EMAIL, deliver, messages_of, process, submit

CENTRAL = zoneinfo.ZoneInfo("America/Chicago")
TX_PHONE = "+15125550142"  # Austin: Texas, Central time
# Tuesday 2 December 2026, 10:00 in Austin: inside Texas's shipped 09:00-21:00.
TUESDAY_10_IN_AUSTIN = dt.datetime(2026, 12, 2, 10, 0, tzinfo=CENTRAL).astimezone(dt.UTC)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The admin tests' app, with quiet hours on (the test environment turns them off)."""
    application = make_app(QUIET_HOURS_ENABLED="true")
    application.config["WTF_CSRF_ENABLED"] = False
    return application


def week_form(window: tuple[str, str] | None, **days: tuple[str, str] | None) -> dict[str, str]:
    """The state form: `window` every day unless a day is given (None: no texts that day)."""
    form: dict[str, str] = {"action": "save"}
    for day in quiet_hour_rules.DAYS:
        period = days.get(day, window)
        if period is not None:
            form[f"texts_{day}"] = "1"
            form[f"from_{day}"], form[f"until_{day}"] = period
    return form


def error_of(response: Any) -> str:
    found = re.search(r'id="settings-error">([^<]*)<', response.get_data(as_text=True))
    assert found, "no error on the page"
    return html.unescape(found[1])


def stored(db: Database) -> tuple[Any, int]:
    with db.session() as session:
        row = session.get(ClinicSetting, quiet_hour_rules.SETTING_KEY)
        audits = session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.kind == "settings.changed")
        )
        return (row.value if row else None), int(audits or 0)


def texas_lead(app: Flask) -> Any:
    who = intake.Contact(first_name="Ana", email=PATIENT_EMAIL, phone=TX_PHONE)
    return submit(app, contact=who)


def test_the_page_lists_the_federal_floor_and_each_states_window(admin: Any) -> None:
    page = admin.get("/admin/settings/quiet-hours").get_data(as_text=True)

    assert "Federal floor (every number)" in page and "Every day 08:00-21:00" in page
    assert "not editable" in page
    texas = page[page.index('id="state-TX"') :].split("</tr>")[0]
    assert "Texas" in texas and "Mon-Sat 09:00-21:00; Sun 12:00-21:00" in texas
    rhode_island = page[page.index('id="state-RI"') :].split("</tr>")[0]
    assert "Mon-Fri 09:00-18:00; Sat-Sun 10:00-17:00" in rhode_island
    # The settings page summarises them and links here.
    settings = admin.get("/admin/settings").get_data(as_text=True)
    assert 'href="/admin/settings/quiet-hours"' in settings and "Connecticut" in settings


@pytest.mark.parametrize("role", ["coordinator", "clinician"])
def test_only_admins_see_or_change_quiet_hours(
    sign_in: Callable[..., Any], db: Database, role: str
) -> None:
    client = sign_in(role)
    assert client.get("/admin/settings/quiet-hours").status_code == 403
    assert client.get("/admin/settings/quiet-hours/TX").status_code == 403
    response = client.post("/admin/settings/quiet-hours/TX", data=week_form(("12:00", "13:00")))
    assert response.status_code == 403
    assert stored(db) == (None, 0)


def test_a_tightened_window_defers_a_text_planned_after_it_and_is_audited(
    admin: Any, app: Flask, db: Database
) -> None:
    now_local = dt.datetime.now(CENTRAL)
    # An hour inside the federal window that does not hold the present moment in Austin, so
    # the text planned now must wait for it (the shipped 09:00-21:00 would not hold it there).
    window = ("08:00", "09:00") if now_local.hour >= 20 else ("20:00", "21:00")
    response = admin.post("/admin/settings/quiet-hours/TX", data=week_form(window))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert "Saved quiet hours for Texas" in admin.get(response.location).get_data(as_text=True)

    value, audits = stored(db)
    assert value["TX"] == {day: f"{window[0]}-{window[1]}" for day in quiet_hour_rules.DAYS}
    assert value["RI"]["monday"] == "09:00-18:00"  # the other states keep their rules
    assert audits == 1
    with db.session() as session:
        event = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.kind == "settings.changed")
        ).one()
        change = event.detail["changes"]["quiet_hours.TX"]
        assert event.actor_email == "admin@clinic.example"
    assert change["before"]["monday"] == "09:00-21:00"
    assert change["before"]["sunday"] == "12:00-21:00"
    assert change["after"]["sunday"] == f"{window[0]}-{window[1]}"
    trail = admin.get("/admin/audit?kind=settings.changed").get_data(as_text=True)
    assert "quiet_hours.TX" in trail

    lead_id = texas_lead(app)
    for message_id in process(app, lead_id):
        deliver(app, message_id)
    (text,) = [
        m
        for m in messages_of(db, lead_id)
        if (m.channel, m.audience, m.step_key) == ("sms", "patient", "first")
    ]
    assert (text.status, text.sent_at) == (MessageStatus.PLANNED, None)
    local = text.due_at.replace(tzinfo=dt.UTC).astimezone(CENTRAL)
    assert f"{local:%H:%M}" >= window[0] and f"{local:%H:%M}" < window[1], local
    assert local > now_local


def test_the_policy_reads_the_admins_window_at_send_time(admin: Any, app: Flask) -> None:
    db: Database = app.extensions["intake.db"]
    lead_id = texas_lead(app)

    def decide() -> Any:
        with db.session() as session:
            lead = session.get_one(Lead, lead_id)
            return can_contact(session, lead, "sms", Purpose.FOLLOW_UP, TUESDAY_10_IN_AUSTIN)

    assert decide().allowed  # 10:00 is inside Texas's shipped 09:00-21:00
    admin.post("/admin/settings/quiet-hours/TX", data=week_form(("12:00", "21:00")))
    later = decide()
    assert (later.allowed, later.reason) == (False, "quiet_hours")
    assert later.not_before is not None
    opens = later.not_before.astimezone(CENTRAL)
    assert (opens.date(), opens.hour) == (dt.date(2026, 12, 2), 12)

    # Back to the shipped rule: no row at all, and the text may go at 10:00 again.
    admin.post("/admin/settings/quiet-hours/TX", data={"action": "reset"})
    assert stored(db) == (None, 2)
    assert decide().allowed


@pytest.mark.parametrize(
    ("form", "words"),
    [
        (week_form(("09:00", "21:00"), sunday=("07:30", "21:00")), "Texas, Sunday: 07:30-21:00"),
        (week_form(("09:00", "21:30")), "reaches past the federal window (08:00-21:00)"),
        (week_form(("13:00", "12:00")), "ends before it starts"),
        (week_form(("9 am", "21:00")), "'9 am' is not a time like 09:00"),
        (week_form(None), "at least one day must allow texts"),
    ],
)
def test_a_window_past_the_federal_floor_or_malformed_is_refused_and_nothing_is_saved(
    admin: Any, db: Database, form: dict[str, str], words: str
) -> None:
    response = admin.post("/admin/settings/quiet-hours/TX", data=form)

    assert response.status_code == 422
    assert words in error_of(response)
    assert "nothing was saved" in error_of(response) or "federal" not in words
    assert 'aria-invalid="true"' in response.get_data(as_text=True) or form == week_form(None)
    assert stored(db) == (None, 0)


def test_a_state_without_a_rule_can_be_given_one_and_an_unknown_state_is_not_found(
    admin: Any, db: Database
) -> None:
    added = admin.post("/admin/settings/quiet-hours/add", data={"state": "WA"})
    assert added.headers["Location"].endswith("/admin/settings/quiet-hours/WA")
    assert "no rule of its own yet" in admin.get(added.location).get_data(as_text=True)
    admin.post("/admin/settings/quiet-hours/WA", data=week_form(("09:00", "20:00")))
    page = admin.get("/admin/settings/quiet-hours").get_data(as_text=True)
    washington = page[page.index('id="state-WA"') :].split("</tr>")[0]
    assert "Every day 09:00-20:00" in washington and "federal window only" in washington

    assert admin.get("/admin/settings/quiet-hours/ZZ").status_code == 404
    assert admin.post("/admin/settings/quiet-hours/add", data={"state": "ZZ"}).status_code == 404
