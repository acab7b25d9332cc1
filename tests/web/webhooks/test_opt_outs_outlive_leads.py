"""A number's STOP is the person's: it outlives the lead that gave it (a deletion request, the
retention purge), while the lead's texts go with it."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from intake_service.domain.compliance import audit, rights
from intake_service.domain.compliance.opt_outs import number_opted_out
from intake_service.models import InboundMessage, Message
from tests.domain.builders import PATIENT_PHONE, database, process, submit
from tests.support.twilio_standin import TwilioStandin
from tests.support.twilio_webhooks import run_worker, text_in

ACTOR = audit.Actor(None, "test")


def test_deleting_a_lead_keeps_its_numbers_stop_and_removes_its_texts(
    sms_app: Callable[..., Flask], twilio_standin: TwilioStandin
) -> None:
    app = sms_app()
    db = database(app)
    lead_id = submit(app)
    process(app, lead_id)
    run_worker(app)
    text_in(app, "evening please", PATIENT_PHONE)
    text_in(app, "STOP", PATIENT_PHONE)

    with db.transaction() as session:
        rights.delete_lead(session, lead_id, ACTOR)

    with db.session() as session:
        assert number_opted_out(session, PATIENT_PHONE)
        assert session.scalars(sa.select(InboundMessage)).all() == []  # not "unknown" texts now
    later = submit(app)
    process(app, later)
    with db.session() as session:
        texts = session.scalars(
            sa.select(Message).where(Message.lead_id == later, Message.channel == "sms")
        ).all()
    assert texts == []
    assert len(twilio_standin.messages) == 1  # only the first lead's first text, before STOP
