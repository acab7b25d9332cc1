"""Admins edit sequences: a disabled step is not planned for the next lead; versions; restore."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.outreach import sequence_editing as editing
from intake_service.domain.outreach import sequences
from intake_service.domain.templates.versions import Author
from intake_service.models import AuditEvent, Sequence, SequenceStep
from tests.domain.builders import database, load_templates, messages_of, process, submit

ADMIN = Author(None, "admin@clinic.example")


def step_id(db: Database, treatment: str, key: str, audience: str, channel: str) -> int:
    with db.session() as session:
        return int(
            session.scalars(
                sa.select(SequenceStep.id)
                .join(Sequence)
                .where(
                    Sequence.treatment == treatment,
                    SequenceStep.key == key,
                    SequenceStep.audience == audience,
                    SequenceStep.channel == channel,
                )
            ).one()
        )


def planned(app: Flask, lead_id: object) -> set[tuple[str, str, str]]:
    return {(m.step_key, m.audience, m.channel) for m in messages_of(database(app), lead_id)}  # type: ignore[arg-type]


def test_a_disabled_step_is_not_planned_for_the_next_lead_and_earlier_plans_stay(
    app: Flask, db: Database
) -> None:
    load_templates(db)
    first_lead = submit(app)
    process(app, first_lead)
    assert ("day1", "patient", "sms") in planned(app, first_lead)

    with db.transaction() as session:
        version = editing.set_enabled(
            session, step_id(db, "tms", "day1", "patient", "sms"), False, ADMIN
        )
    assert version == 2

    # Another person: the same one again would join the first lead as a returning lead.
    someone_else = intake.Contact(
        first_name="Ana", email="ana@patients.example", phone="+14155552671"
    )
    next_lead = submit(app, contact=someone_else)
    process(app, next_lead)
    assert ("day1", "patient", "sms") not in planned(app, next_lead)
    assert ("day3", "patient", "email") in planned(app, next_lead)
    assert ("day1", "patient", "sms") in planned(app, first_lead)  # already planned: kept


def test_the_team_first_contact_email_cannot_be_disabled(db: Database) -> None:
    load_templates(db)
    with pytest.raises(sequences.InvalidSequence, match="stays on"), db.transaction() as session:
        editing.set_enabled(session, step_id(db, "tms", "first", "team", "email"), False, ADMIN)


def test_add_change_move_and_restore_each_make_a_version(db: Database) -> None:
    load_templates(db)
    with db.transaction() as session:
        assert (
            editing.add_step(
                session, "ketamine", "day2", "2d", "patient", "sms", "patient_checkin", ADMIN
            )
            == 2
        )
    new_step = step_id(db, "ketamine", "day2", "patient", "sms")
    with db.transaction() as session:
        assert editing.update_step(session, new_step, "36h", "patient_treatment_info", ADMIN) == 3
        assert editing.move_step(session, new_step, "up", ADMIN) == 4
        assert editing.move_step(session, new_step, "nowhere", ADMIN) == 0
    with db.session() as session:
        (view,) = [v for v in editing.overview(session) if v.treatment == "ketamine"]
    keys = [(s.key, s.channel) for s in view.steps]
    assert keys[-2] == ("day2", "sms") and keys[-1] == ("day7", "email")
    changed = view.steps[-2]
    assert (changed.delay, changed.delay_label, changed.template_key) == (
        "36h",
        "after 36 hours",
        "patient_treatment_info",
    )
    assert [v.version for v in view.versions] == [4, 3, 2, 1]
    assert view.versions[-1].note == "As loaded from templates/sequences.toml"
    assert view.source == "admin"

    with db.transaction() as session:
        assert editing.restore(session, "ketamine", 1, ADMIN) == 5
    with db.session() as session:
        steps = sequences.steps_for(session, "ketamine")
        events = list(
            session.scalars(sa.select(AuditEvent.kind).where(AuditEvent.kind.like("sequence.%")))
        )
    assert [s.key for s in steps] == ["first", "first", "first", "day1", "day3", "day7"]
    assert events.count("sequence.changed") == 3 and events.count("sequence.restored") == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("Day 2", "2d", "patient", "sms", "patient_checkin"), "lower-case"),
        (("day2", "2 days", "patient", "sms", "patient_checkin"), "not like"),
        (("day2", "2d", "team", "sms", "team_urgent_page"), "team steps go by email"),
        (("day2", "2d", "patient", "email", "team_new_lead"), "written for the team"),
        (("day2", "2d", "patient", "sms", "team_unreachable"), "written for the team"),
        (("day2", "2d", "patient", "sms", "patient_nothing"), "no sms template"),
        (("day1", "1d", "patient", "sms", "patient_checkin"), "already has"),
    ],
)
def test_a_bad_step_is_refused_with_a_reason(
    db: Database, args: tuple[str, ...], words: str
) -> None:
    load_templates(db)
    with pytest.raises(sequences.InvalidSequence, match=words), db.transaction() as session:
        editing.add_step(session, "tms", *args, ADMIN)


def test_first_contact_goes_at_once(db: Database) -> None:
    load_templates(db)
    first_sms = step_id(db, "tms", "first", "patient", "sms")
    with pytest.raises(sequences.InvalidSequence, match="at once"), db.transaction() as session:
        editing.update_step(session, first_sms, "1h", "patient_first_reply", ADMIN)


def test_templates_load_never_overwrites_an_edited_sequence(db: Database) -> None:
    load_templates(db)
    with db.transaction() as session:
        editing.set_enabled(session, step_id(db, "tms", "day3", "patient", "email"), False, ADMIN)
    load_templates(db)
    with db.session() as session:
        keys = [(s.key, s.channel) for s in sequences.steps_for(session, "tms")]
    assert ("day3", "email") not in keys and ("day7", "email") in keys


def test_delays_read_back_as_they_are_typed() -> None:
    for seconds, text in [(0, "0"), (90, "90s"), (1800, "30m"), (4 * 3600, "4h"), (86400, "1d")]:
        assert editing.delay_text(seconds) == text
        assert sequences.parse_delay(text) == dt.timedelta(seconds=seconds)
    assert editing.delay_label(86400) == "after 1 day"


def test_a_template_in_two_languages_is_one_choice_for_a_step(db: Database) -> None:
    load_templates(db)

    with db.session() as session:
        choices = editing.template_choices(session)

    patient_texts = choices["patient:sms"]
    assert "patient_first_reply" in patient_texts
    assert len(patient_texts) == len(set(patient_texts))
