"""Spam is stored as spam with its reasons and sent nothing; un-spam runs its messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from intake_service.config.abuse import AbuseSettings
from intake_service.domain import intake
from intake_service.domain.compliance.audit import Actor
from intake_service.domain.intake import spam
from intake_service.domain.leads import status
from tests.domain.builders import (
    database,
    lead_row,
    messages_of,
    process,
    settings_of,
    submission,
    submit,
)

STAFF = Actor(id=None, email="coordinator@clinic.example")


@pytest.fixture
def app(ready_app: Callable[..., Flask]) -> Flask:
    return ready_app(TEAM_EMAILS="team@clinic.example")


@pytest.fixture
def either_app(ready_app: Callable[..., Flask], backend_url: str) -> Flask:
    """The app on SQLite, then on PostgreSQL: intake reads the block list in SQL of its own."""
    return ready_app(TEAM_EMAILS="team@clinic.example", DATABASE_URL=backend_url)


def contact(**changes: Any) -> intake.Contact:
    values: dict[str, Any] = {"first_name": "Jane", "last_name": "Doe"}
    values.update(changes)
    values.setdefault("email", "jane.doe@patients.example")
    values.setdefault("phone", "+12133734253")
    return intake.Contact(**values)


def test_a_person_s_submission_is_not_spam_and_is_planned(app: Flask) -> None:
    lead_id = submit(app, message="See https://clinic.example/tms please")
    assert lead_row(database(app), lead_id).status == "new"
    process(app, lead_id)
    assert messages_of(database(app), lead_id)


def test_a_filled_honeypot_is_stored_as_spam_and_sends_nothing(app: Flask) -> None:
    lead_id = submit(app, bot_signals=("honeypot",))
    lead = lead_row(database(app), lead_id)
    assert (lead.status, lead.spam_reasons) == ("spam", ["honeypot"])
    assert process(app, lead_id) == []
    assert messages_of(database(app), lead_id) == []


def test_many_links_in_the_message_are_spam(app: Flask) -> None:
    links = "buy http://a.example http://b.example www.c.example now"
    lead_id = submit(app, message=links)
    lead = lead_row(database(app), lead_id)
    assert lead.status == "spam"
    assert lead.spam_reasons == ["links"]


def test_a_link_for_a_name_is_refused_at_the_door_before_spam_checks(app: Flask) -> None:
    # The intake rules refuse a web address as a name with a sentence (a person can fix it);
    # nothing is stored, so nothing is sent.
    with pytest.raises(intake.InvalidSubmission, match="not a web address"):
        submit(app, contact=contact(first_name="win.casino.com"))


@pytest.mark.parametrize("name", ["xkcdqwrtz", "aSdFgHjK"])
def test_keyboard_noise_for_a_name_is_spam(app: Flask, name: str) -> None:
    lead_id = submit(app, contact=contact(first_name=name))
    assert lead_row(database(app), lead_id).spam_reasons == ["gibberish_name"]


@pytest.mark.parametrize("name", ["Schwarz", "Nguyen", "Dzhokhar", "McDonald"])
def test_real_names_are_not_gibberish(app: Flask, name: str) -> None:
    lead_id = submit(app, contact=contact(first_name=name))
    assert lead_row(database(app), lead_id).status == "new"


def test_the_block_list_catches_email_domain_phone_prefix_and_word(either_app: Flask) -> None:
    app = either_app
    db = database(app)
    with db.transaction() as session:
        spam.block(session, "email", "Bot@Example.com", by=STAFF.email)
        spam.block(session, "domain", "spammy.example")
        spam.block(session, "phone_prefix", "+4470")
        spam.block(session, "word", "Viagra")
    cases = {
        "blocked_email": contact(email="bot@example.com", phone=None),
        "blocked_domain": contact(email="anyone@mail.spammy.example", phone=None),
        "blocked_phone_prefix": contact(email=None, phone="+447011223344"),
    }
    for reason, who in cases.items():
        lead_id = submit(app, contact=who, sms_consent=False)
        assert lead_row(db, lead_id).spam_reasons == [reason]
    worded = submit(app, message="cheap VIAGRA here")
    assert lead_row(db, worded).spam_reasons == ["blocked_word"]
    with db.session() as session:
        assert len(spam.blocked_values(session)) == 4


def test_block_list_entries_match_whole_labels_prefixes_and_words_only(
    either_app: Flask,
) -> None:
    """The block list is matched by equality on listed candidates (a domain's suffixes at its
    dots, a phone's prefixes, the form's words): a near miss is a person's submission."""
    app = either_app
    db = database(app)
    with db.transaction() as session:
        spam.block(session, "email", "bot@example.com")
        spam.block(session, "domain", "spammy.example")
        spam.block(session, "phone_prefix", "+4470")
        spam.block(session, "word", "viagra")
    near_misses = [
        contact(
            email="notspammy.example@elsewhere.example", phone=None
        ),  # domain in the local part
        contact(email="jane@notspammy.example", phone=None),  # not at a dot
        contact(email="robot@example.com", phone=None),
        contact(email=None, phone="+447111223344"),
        contact(email=None, phone="+14470112233"),  # the digits, not at the start
    ]
    for who in near_misses:
        lead_id = submit(app, contact=who, sms_consent=False)
        assert lead_row(db, lead_id).spam_reasons is None, who
    assert lead_row(db, submit(app, message="no viagras, please")).spam_reasons is None
    # Every kind at once: each reason once, in order.
    both = submit(
        app,
        contact=contact(email="bot@example.com", phone="+447011223344"),
        message="viagra",
        sms_consent=False,
    )
    assert lead_row(db, both).spam_reasons == [
        "blocked_email",
        "blocked_phone_prefix",
        "blocked_word",
    ]


def test_a_bad_block_list_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown block list kind"):
        spam.block(None, "ip", "1.2.3.4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="starts with"):
        spam.block(None, "phone_prefix", "4470")  # type: ignore[arg-type]


def test_crisis_language_is_never_filed_as_spam(app: Flask) -> None:
    lead_id = submit(app, message="I want to end my life", bot_signals=("too_fast",))
    lead = lead_row(database(app), lead_id)
    assert (lead.status, lead.urgent, lead.spam_reasons) == ("new", True, ["too_fast"])


def test_unspam_runs_first_contact_and_follow_up(app: Flask) -> None:
    db = database(app)
    lead_id = submit(app, bot_signals=("honeypot",))
    process(app, lead_id)
    assert messages_of(db, lead_id) == []

    assert spam.unspam(db, lead_id, STAFF) == "new"
    process(app, lead_id)  # what the worker does with the outbox event un-spam wrote
    steps = {(m.step_key, m.audience, m.channel) for m in messages_of(db, lead_id)}
    assert ("first", "patient", "email") in steps
    assert ("first", "team", "email") in steps
    assert any(step != "first" for step, _, _ in steps), "the follow-up was planned too"
    assert lead_row(db, lead_id).spam_reasons == ["honeypot"]  # kept, for the record


def test_unspam_of_a_lead_staff_marked_spam_lifts_that_stop(app: Flask) -> None:
    db = database(app)
    lead_id = submit(app)
    with db.transaction() as session:
        status.set_status(session, lead_id, "spam", dt.datetime.now(dt.UTC), STAFF)
    assert lead_row(db, lead_id).sequence_stop_reason == "spam"
    spam.unspam(db, lead_id, STAFF)
    lead = lead_row(db, lead_id)
    assert (lead.status, lead.sequence_stopped_at) == ("new", None)
    process(app, lead_id)
    assert any(m.audience == "patient" for m in messages_of(db, lead_id))


def test_unspam_of_a_lead_that_is_not_spam_is_refused(app: Flask) -> None:
    with pytest.raises(ValueError, match="not marked as spam"):
        spam.unspam(database(app), submit(app), STAFF)


def test_form_signals_honeypot_too_fast_forged_and_a_person() -> None:
    limits = AbuseSettings()
    now = dt.datetime.now(dt.UTC)
    started = spam.sign_started("k" * 32, now - dt.timedelta(seconds=1))
    assert spam.form_signals("k" * 32, "http://x", None, now, limits) == ("honeypot",)
    assert spam.form_signals("k" * 32, "", started, now, limits) == ("too_fast",)
    assert spam.form_signals("other" * 8, "", started, now, limits) == ("forged_timestamp",)
    later = now + dt.timedelta(seconds=20)
    assert spam.form_signals("k" * 32, "", started, later, limits) == ()
    assert spam.form_signals("k" * 32, "", None, now, limits) == ()  # an old cached page


def test_the_app_s_settings_reach_intake(make_app: Callable[..., Flask]) -> None:
    app = make_app(SPAM_MAX_LINKS="5")
    assert settings_of(app).abuse.spam_max_links == 5
    lead_id = intake.submit(
        database(app), submission(message="a http://a.example b http://b.example c www.c.example")
    ).lead_id
    assert lead_row(database(app), lead_id).status == "new"
