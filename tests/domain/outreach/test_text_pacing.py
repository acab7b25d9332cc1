"""A paced text waits in the database for its slot, is re-planned when the gate is shut, and
goes out exactly once (real database, the Twilio stand-in through the real SDK, real Redis)."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable

import pytest
from flask import Flask

from intake_service.channels import pacing
from intake_service.channels.pacing import pacer_for
from intake_service.domain import intake
from intake_service.domain.outreach import delivery, processing, scheduler
from intake_service.models import MessageStatus
from tests.domain.builders import (
    PATIENT_EMAIL,
    database,
    make_due_now,
    message,
    messages_of,
    settings_of,
    submission,
)
from tests.support.twilio_standin import TwilioStandin

RATE = 2  # a gate shut for a second after two texts: longer than the slot (0.52 s) it waits


@pytest.fixture
def app_database_url(backend_url: str) -> str:
    return backend_url


def lead_text(app: Flask, number: int) -> int:
    contact = intake.Contact(
        first_name="Jane", last_name="Doe", email=PATIENT_EMAIL.replace("@", f"+{number}@"),
        phone=f"+1310555{number:04d}", callback_window="evening",
    )  # fmt: skip
    lead_id = intake.submit(database(app), submission(contact=contact)).lead_id
    processing.process_lead(database(app), settings_of(app), lead_id)
    (text,) = [
        m
        for m in messages_of(database(app), lead_id)
        if m.channel == "sms" and m.audience == "patient" and m.step_key == "first"
    ]
    return text.id


def test_a_paced_text_is_replanned_not_lost_and_goes_out_once(
    wired_app: Callable[..., Flask], twilio_standin: TwilioStandin, redis_url: str
) -> None:
    sender = f"+1213555{random.randrange(10_000):04d}"  # the pace is per sender
    app = wired_app(
        SMS_RATE_PER_SECOND=str(RATE), RATELIMIT_STORAGE_URI=redis_url, TWILIO_FROM_NUMBER=sender
    )
    db, settings = database(app), settings_of(app)
    pacer = pacer_for(settings.delivery.sms_pace)
    assert pacer is not None
    for _ in range(12 * RATE):  # other texts hold the next 12 s of slots (past the lookahead)
        pacer.reserve()
    texts = [lead_text(app, n) for n in range(3)]

    # Each text took the next slot of the sender's pace: the due times live in the database.
    due = [message(db, text_id).due_at for text_id in texts]
    assert due[0] < due[1] < due[2]
    assert due[2] - due[0] >= dt.timedelta(seconds=2 / RATE)
    # Delivered early (a broker copy without its ETA), a text still waits for its slot.
    assert delivery.deliver(db, settings, texts[2]).status == "skipped"

    # All three due at once, as after a late tick: two go; then other workers fill the
    # sender's second (a gate shut for longer than a slot), and the third is re-planned.
    for text_id in texts:
        make_due_now(db, text_id)
    assert [delivery.deliver(db, settings, t).status for t in texts[:2]] == ["sent", "sent"]
    time.sleep(pacing.WINDOW)  # the two sends leave the window; the fill below is all fresh
    while token := pacer.acquire()[1]:
        pacer.answered(token)
    paced = delivery.deliver(db, settings, texts[2])
    assert (paced.status, paced.detail) == (MessageStatus.PLANNED, "paced")
    replanned = message(db, texts[2])
    assert replanned.status == MessageStatus.PLANNED
    assert replanned.due_at > dt.datetime.now(dt.UTC)
    assert len(twilio_standin.messages) == 2

    # Ticks hand it on (with its due time as the ETA while that is ahead); it goes out once.
    deadline = time.monotonic() + 40
    while message(db, texts[2]).status != MessageStatus.SENT and time.monotonic() < deadline:
        for due in scheduler.claim_due_routed(db, settings.delivery):
            if due.id != texts[2]:
                continue
            if due.eta is not None:
                assert due.eta == message(db, texts[2]).due_at
                time.sleep(max(0.0, (due.eta - dt.datetime.now(dt.UTC)).total_seconds()))
            delivery.deliver(db, settings, due.id)
        time.sleep(0.2)
    assert message(db, texts[2]).status == MessageStatus.SENT
    assert delivery.deliver(db, settings, texts[2]).status == "skipped"
    sent_to = [text["to"] for text in twilio_standin.messages]
    assert sorted(sent_to) == sorted(message(db, t).recipient for t in texts)
    assert message(db, texts[2]).provider_id == twilio_standin.messages[-1]["sid"]
