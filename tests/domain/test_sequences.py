"""Follow-up sequences: loaded as data, planned per lead, stopped the moment a person takes over."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from sqlalchemy.orm import Session

from intake_service.channels import OutgoingMessage
from intake_service.cli import main
from intake_service.db import Database
from intake_service.domain.leads import status as leads
from intake_service.domain.outreach import sequences
from intake_service.domain.outreach.sequences import InvalidSequence, parse_delay
from intake_service.domain.templates.versions import current_version
from intake_service.migrate import upgrade
from intake_service.models import Lead, MessageStatus, Sequence, SequenceStep
from intake_service.models.lead import TREATMENTS
from intake_service.paths import templates_root
from tests.conftest import base_env
from tests.domain.builders import (
    PATIENT_EMAIL,
    PATIENT_PHONE,
    count,
    database,
    deliver,
    find,
    lead_row,
    load_templates,
    make_due_now,
    message,
    messages_of,
    process,
    settings_of,
    submit,
    urgent_phq9,
)
from tests.support.channels import intercepted
from tests.support.twilio_standin import TwilioStandin

FOLLOW_UP = {
    "day1": dt.timedelta(days=1),
    "day3": dt.timedelta(days=3),
    "day7": dt.timedelta(days=7),
}


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    """Every ready app of this module, once on SQLite and once on PostgreSQL."""
    return backend_url


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def by_step(app: Flask, lead_id: uuid.UUID) -> list[tuple[str, str, str, str]]:
    return sorted(
        (m.step_key, m.audience, m.channel, m.template_key)
        for m in messages_of(database(app), lead_id)
    )


# --- the default sequences -----------------------------------------------------------------


def test_every_treatment_has_a_loaded_default_sequence_naming_existing_templates(
    db: Database,
) -> None:
    load_templates(db)

    with db.session() as session:
        stored = {s.treatment: s for s in session.scalars(sa.select(Sequence))}
        assert sorted(stored) == sorted(TREATMENTS)
        for treatment, sequence in stored.items():
            assert sequence.source == "default"
            steps = [(s.key, s.audience, s.channel, s.delay_seconds) for s in sequence.steps]
            assert steps == [
                ("first", "team", "email", 0),
                ("first", "patient", "email", 0),
                ("first", "patient", "sms", 0),
                ("day1", "patient", "sms", 86400),
                ("day3", "patient", "email", 3 * 86400),
                ("day7", "patient", "email", 7 * 86400),
            ], treatment
            for step in sequence.steps:
                # A step naming a template that does not exist would fail every lead at send.
                current_version(session, step.template_key, step.channel)


def test_planning_makes_first_contact_due_now_and_follow_ups_due_after_the_lead_arrived(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    lead_id = submit(app)
    before = utcnow()

    process(app, lead_id)

    after = utcnow()
    arrived = lead_row(database(app), lead_id).created_at
    rows = messages_of(database(app), lead_id)
    assert by_step(app, lead_id) == [
        ("day1", "patient", "sms", "patient_checkin"),
        ("day3", "patient", "email", "patient_treatment_info"),
        ("day7", "patient", "email", "patient_last_note"),
        ("first", "patient", "email", "patient_first_reply"),
        ("first", "patient", "sms", "patient_first_reply"),
        ("first", "team", "email", "team_new_lead"),
    ]
    for row in rows:
        if row.step_key == "first":
            assert before <= row.due_at <= after
            assert row.status == MessageStatus.QUEUED
        else:
            assert row.due_at == arrived + FOLLOW_UP[row.step_key]
            assert row.status == MessageStatus.PLANNED
            assert row.queued_at is None


def test_late_planning_keeps_the_rhythm_and_never_plans_in_the_past(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    lead_id = submit(app)
    arrived = utcnow() - dt.timedelta(days=2)
    with database(app).transaction() as session:
        session.get_one(Lead, lead_id).created_at = arrived
    before = utcnow()

    process(app, lead_id)

    assert find(app, lead_id, "day1", "sms").due_at >= before  # overdue: due now, not in the past
    assert find(app, lead_id, "day3", "email").due_at == arrived + dt.timedelta(days=3)
    assert find(app, lead_id, "day7", "email").due_at == arrived + dt.timedelta(days=7)


def test_planning_twice_plans_nothing_twice(ready_app: Callable[..., Flask]) -> None:
    app = ready_app(TEAM_EMAILS="a@sunrise.example, b@sunrise.example")
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    first_plan = [(m.id, m.plan_key, m.due_at) for m in messages_of(db, lead_id)]

    with db.transaction() as session:
        lead = session.get_one(Lead, lead_id)
        again = sequences.plan(
            session, lead, sequences.steps_for(session, "tms"), settings_of(app), utcnow()
        )

    assert again == []
    assert [(m.id, m.plan_key, m.due_at) for m in messages_of(db, lead_id)] == first_plan
    assert len(first_plan) == 7  # two team emails, two first replies, three follow-ups


def test_urgent_lead_gets_the_crisis_reply_and_pages_but_no_marketing_or_drip(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app(ON_CALL_PHONE="+13105550199", ON_CALL_EMAIL="oncall@sunrise.example")
    lead_id = submit(app, **urgent_phq9())

    process(app, lead_id)

    assert lead_row(database(app), lead_id).urgent
    assert by_step(app, lead_id) == [
        ("first", "patient", "email", "patient_crisis_reply"),
        ("first", "patient", "sms", "patient_crisis_reply"),
        ("first", "team", "email", "team_urgent_page"),
        ("page1", "team", "email", "team_urgent_page"),
        ("page1", "team", "sms", "team_urgent_page"),
    ]


def test_lead_without_sms_consent_gets_no_text_in_its_follow_up(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    lead_id = submit(app, sms_consent=False)

    process(app, lead_id)

    assert [m.step_key for m in messages_of(database(app), lead_id) if m.channel == "sms"] == []
    assert find(app, lead_id, "day3", "email").recipient == PATIENT_EMAIL


# --- stopping ------------------------------------------------------------------------------


def _status(status: str) -> Callable[[Session, uuid.UUID, dt.datetime], None]:
    def change(session: Session, lead_id: uuid.UUID, now: dt.datetime) -> None:
        leads.set_status(session, lead_id, status, now)

    return change


STOPS: dict[str, Callable[[Session, uuid.UUID, dt.datetime], None]] = {
    "contacted": _status("contacted"),
    "booked": _status("booked"),
    "closed": _status("closed"),
    "spam": _status("spam"),
    "replied": leads.patient_replied,
    "callback_requested": leads.callback_requested,
}


@pytest.mark.parametrize("reason", list(STOPS))
def test_stopping_cancels_every_planned_and_queued_patient_message_and_leaves_the_team_ones(
    ready_app: Callable[..., Flask], reason: str
) -> None:
    app = ready_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    first_email = find(app, lead_id, "first", "email")
    assert deliver(app, first_email.id).status == MessageStatus.SENT
    team = find(app, lead_id, "first", "email", audience="team")
    now = utcnow()

    with db.transaction() as session:
        STOPS[reason](session, lead_id, now)

    rows = {m.id: m for m in messages_of(db, lead_id)}
    cancelled = {
        (m.step_key, m.channel) for m in rows.values() if m.status == MessageStatus.CANCELLED
    }
    assert cancelled == {("first", "sms"), ("day1", "sms"), ("day3", "email"), ("day7", "email")}
    for row in rows.values():
        if row.status == MessageStatus.CANCELLED:
            assert row.audience == "patient"
            assert row.last_error == f"sequence stopped: {reason}"
    assert rows[first_email.id].status == MessageStatus.SENT  # what went out stays on record
    assert rows[team.id].status == MessageStatus.QUEUED
    stopped = lead_row(db, lead_id)
    assert (stopped.sequence_stopped_at, stopped.sequence_stop_reason) == (now, reason)
    # The team still hears of the lead: that is how a person learns to call.
    assert deliver(app, team.id).status == MessageStatus.SENT
    assert deliver(app, find(app, lead_id, "first", "sms").id).status == "skipped"


def test_a_stopped_lead_processed_again_gets_no_new_follow_up(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    db = database(app)
    lead_id = submit(app)
    with db.transaction() as session:
        leads.patient_replied(session, lead_id, utcnow())

    process(app, lead_id)

    assert {m.step_key for m in messages_of(db, lead_id)} == {"first"}


def test_a_second_stop_keeps_the_first_reason(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    with db.transaction() as session:
        leads.callback_requested(session, lead_id, utcnow())

    with db.transaction() as session:
        leads.set_status(session, lead_id, "booked", utcnow())

    stopped = lead_row(db, lead_id)
    assert (stopped.status, stopped.sequence_stop_reason) == ("booked", "callback_requested")


def test_setting_a_lead_back_to_new_stops_nothing(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)

    with db.transaction() as session:
        leads.set_status(session, lead_id, "new", utcnow())

    assert lead_row(db, lead_id).sequence_stopped_at is None
    assert MessageStatus.CANCELLED not in {m.status for m in messages_of(db, lead_id)}


def test_unknown_status_and_unknown_lead_are_refused(ready_app: Callable[..., Flask]) -> None:
    app = ready_app()
    db = database(app)
    lead_id = submit(app)

    with pytest.raises(ValueError, match="archived"), db.transaction() as session:
        leads.set_status(session, lead_id, "archived", utcnow())
    with pytest.raises(leads.UnknownLead), db.transaction() as session:
        leads.set_status(session, uuid.uuid4(), "closed", utcnow())
    with pytest.raises(ValueError, match="bored"), db.transaction() as session:
        sequences.stop(session, lead_id, "bored", utcnow())

    assert lead_row(db, lead_id).status == "new"


def test_message_already_claimed_when_the_sequence_stops_is_cancelled_at_send_time(
    ready_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    # The patient replies while a worker is talking to Twilio about their text: stop() cannot
    # cancel a message in `sending`. Twilio answers 500, so the text goes back on the schedule;
    # the re-check at the next send must cancel it rather than text someone who already replied.
    app = ready_app(**twilio_standin.env())
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    sms = find(app, lead_id, "first", "sms")

    def reply_arrives_mid_send(_: OutgoingMessage) -> None:
        with db.transaction() as session:
            leads.patient_replied(session, lead_id, utcnow())
        assert message(db, sms.id).status == MessageStatus.SENDING  # stop() left it alone
        twilio_standin.fail_next(status=500)

    with intercepted(db, before=reply_arrives_mid_send):
        assert deliver(app, sms.id).status == MessageStatus.PLANNED
    make_due_now(db, sms.id)

    outcome = deliver(app, sms.id)

    assert (outcome.status, outcome.detail) == (
        MessageStatus.CANCELLED,
        "sequence stopped: replied",
    )
    assert message(db, sms.id).status == MessageStatus.CANCELLED
    # The send that failed, then the look-up its 500 calls for (did Twilio take it after all?):
    # nothing there, so the re-check cancels it and no second send is made.
    assert [r.method for r in twilio_standin.requests] == ["POST", "GET"]
    assert twilio_standin.messages == []


# --- loading ------------------------------------------------------------------------------


def snapshot(db: Database) -> dict[str, object]:
    with db.session() as session:
        return {
            "versions": sorted(
                session.execute(sa.text("SELECT id, checksum FROM template_versions")).all()
            ),
            "sequences": sorted(
                session.execute(sa.text("SELECT id, treatment, source FROM sequences")).all()
            ),
            "steps": sorted(
                session.execute(
                    sa.text(
                        "SELECT id, sequence_id, position, key, channel, template_key, "
                        "delay_seconds FROM sequence_steps"
                    )
                ).all()
            ),
        }


def test_templates_load_run_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    env = base_env(tmp_path / "instance")
    upgrade(env["DATABASE_URL"])
    runner = CliRunner()

    first = runner.invoke(main, ["templates", "load"], env=env)
    db = Database(env["DATABASE_URL"])
    try:
        loaded = snapshot(db)
        second = runner.invoke(main, ["templates", "load"], env=env)
        assert snapshot(db) == loaded
    finally:
        db.dispose()

    assert first.exit_code == 0, first.output
    for treatment in TREATMENTS:
        assert f"loaded sequence for {treatment}" in first.output
    assert second.exit_code == 0, second.output
    assert second.output.strip() == "templates unchanged: the database already has every default"
    assert len(loaded["sequences"]) == len(TREATMENTS)  # type: ignore[arg-type]


def test_admin_edited_sequence_is_left_alone_by_load_defaults(db: Database) -> None:
    load_templates(db)
    with db.transaction() as session:
        tms = session.scalars(sa.select(Sequence).where(Sequence.treatment == "tms")).one()
        tms.source = "admin"
        tms.steps = [s for s in tms.steps if s.key != "day7"]
        tms.steps[-1].delay_seconds = 2 * 86400

    with db.transaction() as session:
        written = sequences.load_defaults(session)

    assert written == []
    with db.session() as session:
        steps = sequences.steps_for(session, "tms")
    assert [(s.key, s.delay) for s in steps if s.audience == "patient" and s.key != "first"] == [
        ("day1", dt.timedelta(days=1)),
        ("day3", dt.timedelta(days=2)),
    ]


def test_changed_default_sequence_is_rewritten_and_loading_it_again_writes_nothing(
    db: Database, tmp_path: Path
) -> None:
    load_templates(db)
    changed = tmp_path / "sequences.toml"
    shipped = (templates_root() / "sequences.toml").read_text()
    changed.write_text(shipped.replace('key = "day1", after = "1d"', 'key = "day1", after = "20h"'))

    with db.transaction() as session:
        written = sequences.load_defaults(session, changed)
    with db.transaction() as session:
        again = sequences.load_defaults(session, changed)

    assert sorted(written) == sorted(TREATMENTS)
    assert again == []
    with db.session() as session:
        day1 = session.scalars(sa.select(SequenceStep).where(SequenceStep.key == "day1")).all()
        assert {s.delay_seconds for s in day1} == {20 * 3600}
    assert count(db, "sequence_steps") == 6 * len(TREATMENTS)


def test_sequence_in_force_for_a_lead_is_the_stored_one(
    ready_app: Callable[..., Flask],
) -> None:
    app = ready_app()
    db = database(app)
    with db.transaction() as session:
        tms = session.scalars(sa.select(Sequence).where(Sequence.treatment == "tms")).one()
        tms.source = "admin"
        tms.steps = [s for s in tms.steps if s.key in ("first", "day3")]
    lead_id = submit(app)

    process(app, lead_id)

    assert {m.step_key for m in messages_of(db, lead_id)} == {"first", "day3"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", dt.timedelta(0)),
        ("90", dt.timedelta(seconds=90)),
        ("90s", dt.timedelta(seconds=90)),
        ("30m", dt.timedelta(minutes=30)),
        ("4h", dt.timedelta(hours=4)),
        ("1d", dt.timedelta(days=1)),
        ("07d", dt.timedelta(days=7)),
        (" 3d ", dt.timedelta(days=3)),
    ],
)
def test_parse_delay_reads_whole_numbers_with_a_unit(text: str, expected: dt.timedelta) -> None:
    assert parse_delay(text) == expected


@pytest.mark.parametrize("text", ["", "d", "1w", "1.5h", "-1d", "1 d", "1D", "1dd", "2d4h", "+1d"])
def test_parse_delay_refuses_anything_else_with_a_sentence(text: str) -> None:
    with pytest.raises(InvalidSequence, match=r"is not like 0, 30m, 4h or 1d"):
        parse_delay(text)


def test_parse_delay_refuses_a_delay_too_large_to_represent() -> None:
    # parse_delay promises InvalidSequence, which `templates load` reports as a sentence; a
    # bare OverflowError from timedelta would escape as a traceback instead.
    with pytest.raises(InvalidSequence):
        parse_delay("9999999999d")


def write_sequences(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sequences.toml"
    path.write_text(text)
    return path


def one_sequence(treatment: str, channel: str = "sms", after: str = "0") -> str:
    return (
        f'[[sequence]]\ntreatment = "{treatment}"\nsteps = [{{ key = "first", after = "{after}", '
        f'audience = "patient", channel = "{channel}", template = "patient_first_reply" }}]\n'
    )


def test_sequences_file_with_an_unknown_treatment_is_refused(tmp_path: Path) -> None:
    path = write_sequences(tmp_path, "".join(one_sequence(t) for t in (*TREATMENTS, "reiki")))

    with pytest.raises(InvalidSequence, match="unknown treatment 'reiki'"):
        sequences.read_defaults(path)


def test_sequences_file_missing_a_treatment_names_it(tmp_path: Path) -> None:
    path = write_sequences(tmp_path, "".join(one_sequence(t) for t in TREATMENTS[1:]))

    with pytest.raises(InvalidSequence, match=f"no sequence for {TREATMENTS[0]}"):
        sequences.read_defaults(path)


def test_sequences_file_with_a_bad_channel_or_delay_is_refused(tmp_path: Path) -> None:
    pigeon = write_sequences(tmp_path, one_sequence("tms", channel="pigeon"))
    with pytest.raises(InvalidSequence, match="tms step first: bad audience or channel"):
        sequences.read_defaults(pigeon)

    soon = write_sequences(tmp_path, one_sequence("tms", after="soon"))
    with pytest.raises(InvalidSequence, match="'soon'"):
        sequences.read_defaults(soon)


def test_shipped_sequences_reach_both_channels_of_the_patient(db: Database) -> None:
    # A lead who gave only a phone, or only an email, still gets first contact.
    steps = sequences.read_defaults()
    for treatment, treatment_steps in steps.items():
        first = {(s.audience, s.channel) for s in treatment_steps if s.key == "first"}
        assert first == {("team", "email"), ("patient", "email"), ("patient", "sms")}, treatment
    assert PATIENT_PHONE.startswith("+")
