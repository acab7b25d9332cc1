"""Clinic settings in the database over the environment's defaults, each change audited."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain import clinic_settings, intake
from intake_service.domain.compliance.audit import Actor
from intake_service.models import AuditEvent, ClinicSetting
from tests.domain.builders import (
    database,
    messages_of,
    process_and_deliver,
    settings_of,
    submit,
)

ADMIN = Actor(None, "admin@clinic.example")


def test_defaults_come_from_the_environment_and_carry_no_screening_results(
    app: Flask, db: Database
) -> None:
    settings = app.extensions["intake.settings"]
    with db.session() as session:
        profile = clinic_settings.effective_clinic(session, settings)
    assert (profile.name, profile.phone, profile.timezone) == (
        "Sunrise Clinic",
        "(310) 555-0100",
        "America/Los_Angeles",
    )
    assert profile.team_email_carries == frozenset() and profile.overridden == frozenset()
    assert profile.template_clinic()["phone_e164"] == "+13105550100"


def test_a_change_overrides_the_environment_and_is_audited_with_before_and_after(
    app: Flask, db: Database
) -> None:
    settings = app.extensions["intake.settings"]
    with db.transaction() as session:
        changes = clinic_settings.update(
            session,
            settings,
            {"name": "Sunrise Mind", "timezone": "America/New_York", "team_email_score": True},
            ADMIN,
        )
    assert changes == {
        "name": {"before": "Sunrise Clinic", "after": "Sunrise Mind"},
        "timezone": {"before": "America/Los_Angeles", "after": "America/New_York"},
        "team_email_score": {"before": False, "after": True},
    }
    with db.session() as session:
        profile = clinic_settings.effective_clinic(session, settings)
        (event,) = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.kind == "settings.changed")
        )
    assert (profile.name, profile.timezone) == ("Sunrise Mind", "America/New_York")
    assert profile.team_email_carries == frozenset({"score"})
    assert event.detail["changes"] == changes and event.actor_email == ADMIN.email

    # Back to the environment's value: the override goes, and the environment rules again.
    with db.transaction() as session:
        clinic_settings.update(session, settings, {"name": "Sunrise Clinic"}, ADMIN)
    with db.session() as session:
        keys = set(session.scalars(sa.select(ClinicSetting.key)))
    assert keys == {"timezone", "team_email_score"}


def test_a_row_no_setting_owns_is_not_read_as_one(app: Flask, db: Database) -> None:
    # A row left by an older release, or put there by hand, names no field of the profile.
    settings = app.extensions["intake.settings"]
    with db.transaction() as session:
        session.add(ClinicSetting(key="legacy_banner", value="Closed for the holidays"))
        session.add(ClinicSetting(key="name", value="Sunrise Mind"))
    with db.session() as session:
        profile = clinic_settings.effective_clinic(session, settings)
    assert profile.name == "Sunrise Mind" and profile.overridden == frozenset({"name"})


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("name", "  ", "cannot be empty"),
        ("phone", "call us", "phone number patients can call"),
        ("timezone", "Mars/Olympus", "not a time zone"),
        ("address", "x" * 201, "at most 200"),
    ],
)
def test_a_bad_value_is_refused_and_nothing_is_stored(
    app: Flask, db: Database, field: str, value: str, words: str
) -> None:
    settings = app.extensions["intake.settings"]
    with pytest.raises(clinic_settings.InvalidSetting, match=words), db.transaction() as session:
        clinic_settings.update(session, settings, {"name": "Other", field: value}, ADMIN)
    with db.session() as session:
        assert session.scalars(sa.select(ClinicSetting)).all() == []


def test_sends_use_the_clinic_an_admin_set_and_show_the_score_only_when_allowed(
    ready_app: Any,
) -> None:
    app = ready_app()
    db, settings = database(app), settings_of(app)

    def sent_bodies(lead_id: Any) -> dict[str, str]:
        process_and_deliver(app, lead_id)
        return {
            m.template_key: m.body_text or ""
            for m in messages_of(db, lead_id)
            if m.channel == "email" and m.step_key == "first"
        }

    before = sent_bodies(submit(app))
    assert "Screening score" not in before["team_new_lead"]  # off by default: least needed

    with db.transaction() as session:
        clinic_settings.update(
            session, settings, {"name": "Sunrise Mind", "team_email_score": True}, ADMIN
        )
    # Another person: the same one again would join the first lead as a returning lead.
    someone_else = intake.Contact(
        first_name="Ana", email="ana@patients.example", phone="+14155552671"
    )
    after = sent_bodies(submit(app, contact=someone_else))

    assert "Screening score" in after["team_new_lead"]
    assert "Sunrise Mind" in after["patient_first_reply"]
    assert "Sunrise Mind" not in before["patient_first_reply"]
