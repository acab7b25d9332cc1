"""The hourly counts of texts per prefix and country that the SMS-pumping checks read.

Kept as texts are planned and as the provider takes them, on SQLite and PostgreSQL (the upsert
is each dialect's own); the checks read them, not the messages table.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.compliance import pumping, retention, text_volume
from intake_service.domain.compliance.policy import Purpose, can_contact
from intake_service.models import Lead, Message, SmsPause, TextVolume
from tests.domain.builders import database, deliver, messages_of, process, submission

NOW = dt.datetime(2026, 12, 2, 10, 15, tzinfo=dt.UTC)  # a quarter past the hour


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    return backend_url


@pytest.fixture
def make(wired_app: Callable[..., Flask]) -> Callable[..., Flask]:
    def build(**overrides: Any) -> Flask:
        return wired_app(SMS_ENABLED="true", QUIET_HOURS_ENABLED="false", **overrides)

    return build


def submit_with_phone(app: Flask, phone: str) -> uuid.UUID:
    email = f"{uuid.uuid4().hex[:10]}@patients.example"
    who = intake.Contact(first_name="Pat", last_name="Lee", email=email, phone=phone)
    data = submission(contact=who, sms_consent=True)
    return intake.submit(database(app), data).lead_id


def volume(db: Database) -> dict[tuple[str, str], tuple[int, int]]:
    """(planned, at_provider) per scope, summed over the hours."""
    with db.session() as session:
        rows = session.execute(
            sa.select(TextVolume.scope, TextVolume.value, sa.func.sum(TextVolume.planned),
                      sa.func.sum(TextVolume.at_provider))
            .group_by(TextVolume.scope, TextVolume.value)
        )  # fmt: skip
        return {(scope, value): (planned, taken) for scope, value, planned, taken in rows}


def put(
    db: Database, scope: str, value: str, hour: dt.datetime, planned: int = 0, taken: int = 0
) -> None:
    with db.transaction() as session:
        row = TextVolume(scope=scope, value=value, hour=hour, planned=planned, at_provider=taken)
        session.add(row)


def test_planning_counts_a_patients_texts_and_the_provider_taking_one_counts_it_as_taken(
    make: Callable[..., Flask],
) -> None:
    app = make()
    db = database(app)
    lead_id = submit_with_phone(app, "+12135550150")
    due = process(app, lead_id)
    texts = [m for m in messages_of(db, lead_id) if m.channel == "sms"]
    assert texts and all(m.audience == "patient" for m in texts)
    assert volume(db) == {("prefix", "+1213"): (len(texts), 0), ("country", "+1"): (len(texts), 0)}

    for message_id in due:
        deliver(app, message_id)
    sent = [m for m in messages_of(db, lead_id) if m.channel == "sms" and m.status == "sent"]
    assert len(sent) == 1  # the first text; the follow-ups are days away
    # Taken counts for the prefix's daily cap only; the country has no cap of its own.
    assert volume(db) == {("prefix", "+1213"): (len(texts), 1), ("country", "+1"): (len(texts), 0)}
    # The same lead processed again plans nothing new, so counts nothing new.
    process(app, lead_id)
    assert volume(db)[("prefix", "+1213")] == (len(texts), 1)


def test_a_text_cancelled_after_planning_stays_counted(make: Callable[..., Flask]) -> None:
    app = make()
    db = database(app)
    lead_id = submit_with_phone(app, "+12135550150")
    process(app, lead_id)
    planned = volume(db)[("country", "+1")][0]
    with db.transaction() as session:
        session.execute(
            sa.update(Message).where(Message.lead_id == lead_id).values(status="cancelled")
        )
    assert volume(db)[("country", "+1")][0] == planned


def test_the_surge_check_reads_the_counts_not_the_messages(make: Callable[..., Flask]) -> None:
    app = make(SMS_SURGE_MIN_PER_HOUR="10")
    db = database(app)
    hour = text_volume.hour_of(dt.datetime.now(dt.UTC))
    put(db, "prefix", "+1213", hour, planned=12)  # no message rows behind them at all
    lead_id = submit_with_phone(app, "+12135550150")
    process(app, lead_id)
    with db.session() as session:
        pauses = {(p.scope, p.value) for p in session.scalars(sa.select(SmsPause))}
    assert pauses == {("prefix", "+1213")}  # the country's 12 are not the prefix's


def test_a_surge_hours_ago_is_no_surge_now_but_raises_the_usual_rate(
    make: Callable[..., Flask],
) -> None:
    app = make(SMS_SURGE_MIN_PER_HOUR="10", SMS_SURGE_FACTOR="5")
    db = database(app)
    hour = text_volume.hour_of(dt.datetime.now(dt.UTC))
    put(db, "prefix", "+1213", hour - dt.timedelta(hours=3), planned=500)
    put(db, "prefix", "+1213", hour, planned=12)
    # 12 this hour against a usual 500/168 = 3 an hour: 12 is not five times that.
    lead_id = submit_with_phone(app, "+12135550150")
    process(app, lead_id)
    with db.session() as session:
        assert session.scalars(sa.select(SmsPause)).first() is None


def test_the_prefix_daily_cap_reads_the_taken_counts_of_the_last_day(
    make: Callable[..., Flask],
) -> None:
    app = make(SMS_DAILY_CAP_PER_PREFIX="20")
    db = database(app)
    hour = text_volume.hour_of(dt.datetime.now(dt.UTC))
    put(db, "prefix", "+1213", hour - dt.timedelta(days=2), taken=500)  # long gone
    lead_id = submit_with_phone(app, "+12135550150")

    def decide() -> Any:
        with db.session() as session:
            lead = session.get_one(Lead, lead_id)
            return can_contact(session, lead, "sms", Purpose.FIRST_CONTACT, dt.datetime.now(dt.UTC))

    assert decide().allowed
    put(db, "prefix", "+1213", hour - dt.timedelta(hours=5), taken=20)
    assert decide().reason == "sms_prefix_daily_cap"


def test_the_window_counts_its_oldest_hour_for_the_part_inside_it(
    make: Callable[..., Flask],
) -> None:
    db = database(make())
    hour = text_volume.hour_of(NOW)

    def last_hour(now: dt.datetime) -> float:
        with db.session() as session:
            total = text_volume.in_window(TextVolume.planned, "hour")
            params = text_volume.window_params("hour", now, dt.timedelta(hours=1))
            query = sa.select(sa.func.coalesce(total, 0))
            return float(session.execute(query, params).scalar_one())

    assert last_hour(NOW) == 0
    for hours_ago, planned in ((0, 10), (1, 40), (2, 99)):
        put(db, "prefix", "+1213", hour - dt.timedelta(hours=hours_ago), planned=planned)
    # A quarter past: all of this hour's 10 and three quarters of the previous hour's 40.
    assert last_hour(NOW) == pytest.approx(40)
    assert last_hour(hour) == pytest.approx(50)  # on the hour: all of the previous one


def test_counts_older_than_the_checks_read_are_forgotten_by_retention(
    make: Callable[..., Flask],
) -> None:
    app = make()
    db = database(app)
    now = dt.datetime.now(dt.UTC)
    put(db, "prefix", "+1213", text_volume.hour_of(now - dt.timedelta(days=9)), planned=3)
    put(db, "prefix", "+1213", text_volume.hour_of(now - dt.timedelta(days=6)), planned=4)
    retention.purge(db, retention.RetentionPolicy(spam_days=0, closed_days=0), now)
    assert volume(db) == {("prefix", "+1213"): (4, 0)}


def test_watch_reports_the_hourly_estimate_in_whole_texts(make: Callable[..., Flask]) -> None:
    app = make(SMS_SURGE_MIN_PER_HOUR="3")
    db = database(app)
    put(db, "country", "+1", text_volume.hour_of(dt.datetime.now(dt.UTC)), planned=7)
    lead_id = submit_with_phone(app, "+12135550150")
    process(app, lead_id)
    with db.session() as session:
        (pause,) = session.scalars(sa.select(SmsPause))
    assert (pause.scope, pause.value) == ("country", "+1")
    assert pause.reason.startswith("7 texts in the last hour")
    assert pumping.TEMPLATE in {m.template_key for m in messages_of(db, lead_id)}
