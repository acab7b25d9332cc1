"""The public forms' spam defence: a bot sees the ordinary thank-you page, its lead is spam."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from flask import Flask
from sqlalchemy import select

from intake_service.db import Database
from intake_service.domain.intake import spam
from intake_service.models import Lead

FORM = {
    "first_name": "Jane",
    "last_name": "Doe",
    "email": "jane@example.com",
    "phone": "(310) 555-0123",
    "treatment_interest": "ketamine",
    "callback_window": "evening",
    "message": "I would like to know more.",
}


def only_lead(db: Database) -> Lead:
    with db.session() as session:
        return session.scalars(select(Lead)).one()


def started(app: Flask, seconds_ago: float) -> str:
    secret = app.extensions["intake.settings"].secret_key
    return spam.sign_started(secret, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago))


def post(client: Any, **fields: str) -> Any:
    return client.post("/contact", data={**FORM, "submission_token": str(uuid.uuid4()), **fields})


def test_the_form_carries_a_hidden_honeypot_and_a_signed_start_time(client: Any) -> None:
    page = client.get("/contact").text
    assert re.search(r'aria-hidden="true"><label for="website">', page)
    assert re.search(r'<input[^>]*name="website"[^>]*tabindex="-1"', page)
    assert re.search(r'<input[^>]*name="form_started"[^>]*type="hidden"', page) or re.search(
        r'<input[^>]*type="hidden"[^>]*name="form_started"', page
    )


def test_a_bot_filling_the_honeypot_sees_the_thank_you_page(
    app: Flask, client: Any, db: Database
) -> None:
    response = post(client, website="http://casino.example", form_started=started(app, 30))
    assert response.status_code == 303
    assert "/thank-you/" in response.headers["Location"]
    lead = only_lead(db)
    assert (lead.status, lead.spam_reasons) == ("spam", ["honeypot"])


def test_a_form_sent_faster_than_a_person_can_fill_it_is_spam(
    app: Flask, client: Any, db: Database
) -> None:
    response = post(client, form_started=started(app, 0.5))
    assert response.status_code == 303
    assert only_lead(db).spam_reasons == ["too_fast"]


def test_a_forged_start_time_is_spam(client: Any, db: Database) -> None:
    assert (
        post(client, form_started=spam.sign_started("x" * 40, dt.datetime(2020, 1, 1))).status_code
        == 303
    )
    assert only_lead(db).spam_reasons == ["forged_timestamp"]


def test_a_person_taking_their_time_is_not_spam(app: Flask, client: Any, db: Database) -> None:
    assert post(client, form_started=started(app, 45)).status_code == 303
    lead = only_lead(db)
    assert (lead.status, lead.spam_reasons) == ("new", None)


def test_the_start_time_survives_a_form_given_back_with_errors(app: Flask, client: Any) -> None:
    first = started(app, 60)
    response = post(client, phone="not a phone", form_started=first)
    assert response.status_code == 422
    assert first in response.text
