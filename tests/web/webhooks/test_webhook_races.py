"""Twilio's retries and early reports racing each other, on SQLite and on PostgreSQL: the same
MessageSid posted at once from several connections is processed once, and a status report
that beats the SID's record is applied when it lands."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from flask import Flask

from intake_service.models import ConsentEvent, InboundMessage, MessageStatus
from tests.domain.builders import PATIENT_PHONE, database, find, process, submit
from tests.support.twilio_standin import TwilioStandin
from tests.support.twilio_webhooks import (
    SMS_PATH,
    inbound_params,
    post_signed,
    report,
    run_worker,
)

REPEATS = 6


def test_the_same_stop_posted_at_once_is_processed_and_answered_once(
    sms_app: Callable[..., Flask], backend_url: str
) -> None:
    app = sms_app(DATABASE_URL=backend_url)
    lead_id = submit(app)
    params = inbound_params(app, "STOP", PATIENT_PHONE)

    with ThreadPoolExecutor(REPEATS) as pool:
        answers = list(pool.map(lambda _: post_signed(app, SMS_PATH, params), range(REPEATS)))

    assert [a.status_code for a in answers] == [200] * REPEATS
    assert sum("<Message>" in a.get_data(as_text=True) for a in answers) == 1
    with database(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 1
        opt_outs = session.scalars(
            sa.select(ConsentEvent).where(
                ConsentEvent.lead_id == lead_id, ConsentEvent.action == "opt_out"
            )
        ).all()
    assert len(opt_outs) == 1


def test_an_early_report_is_applied_when_the_sid_lands(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin, backend_url: str
) -> None:
    app = sms_app(DATABASE_URL=backend_url)
    lead_id = submit(app)
    process(app, lead_id)
    codes: list[Any] = []
    twilio_standin.on_create = lambda resource: codes.append(
        report(app, resource["sid"], "delivered").status_code
    )

    run_worker(app)

    assert codes == [204]
    text = find(app, lead_id, "first", "sms")
    assert text.status == MessageStatus.DELIVERED
