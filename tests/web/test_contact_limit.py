"""The per-contact cap: one phone or one email may send a few forms an hour, by any door."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.config import Settings
from intake_service.config.readers import ConfigError
from intake_service.db import Database
from intake_service.domain.intake import contact_limit
from intake_service.models import Lead, Submission
from tests.support import factories

FORM = {
    "first_name": "Jane",
    "last_name": "Doe",
    "email": "jane@example.com",
    "phone": "",
    "treatment_interest": "ketamine",
    "callback_window": "evening",
    "message": "Could someone call me about ketamine?",
}
API_BODY: dict[str, Any] = {
    "form": "contact",
    "contact": {"first_name": "Jane", "email": "jane@example.com", "callback_window": "evening"},
    "treatment_interest": "ketamine",
}


def submissions(db: Database) -> int:
    with db.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Submission)) or 0


def post_form(client: Any, **fields: str) -> Any:
    return client.post("/contact", data={**FORM, "submission_token": str(uuid.uuid4()), **fields})


def form_app(make_app: Callable[..., Flask], **env: str) -> Flask:
    app = make_app(DUPLICATE_WINDOW_DAYS="0", **env)
    app.config["WTF_CSRF_ENABLED"] = False  # posts the form directly
    return app


@pytest.fixture
def capped(make_app: Callable[..., Flask]) -> Flask:
    return form_app(make_app, SUBMISSIONS_PER_CONTACT_PER_HOUR="3")


def test_the_form_past_the_cap_comes_back_as_typed_with_when_to_try_again(capped: Flask) -> None:
    client, db = capped.test_client(), capped.extensions["intake.db"]
    for _ in range(3):
        assert post_form(client).status_code == 303
    response = post_form(client, first_name="Janet", message="Please, this evening.")

    assert response.status_code == 429
    assert 3000 <= int(response.headers["Retry-After"]) <= 3600
    page = response.text
    assert "several forms from this email address or phone number" in page
    assert "again in 60 min" in page
    assert "(310) 555-0100" in page  # the clinic's phone, to call instead
    assert 'value="Janet"' in page and "Please, this evening." in page
    assert submissions(db) == 3


def test_the_cap_is_shared_by_both_doors_and_keyed_on_the_email_as_matched(
    capped: Flask,
) -> None:
    client, db = capped.test_client(), capped.extensions["intake.db"]
    assert client.post("/api/v1/submissions", json=API_BODY).status_code == 201
    assert post_form(client, email="JANE@example.com").status_code == 303
    assert client.post("/api/v1/submissions", json=API_BODY).status_code == 201

    refused = client.post("/api/v1/submissions", json=API_BODY)
    assert refused.status_code == 429
    assert refused.get_json()["retry_after"] == int(refused.headers["Retry-After"])
    assert "several forms" in refused.get_json()["error"]
    assert post_form(client, email="Jane@Example.com").status_code == 429
    assert submissions(db) == 3

    # Someone else is not held back by Jane's forms.
    assert post_form(client, email="sam@example.com").status_code == 303


def test_the_cap_counts_a_phone_across_its_formats(capped: Flask) -> None:
    client = capped.test_client()
    phones = ["(310) 555-0123", "310-555-0123", "+1 310 555 0123"]
    for index, phone in enumerate(phones):
        assert post_form(client, email=f"p{index}@example.com", phone=phone).status_code == 303
    assert post_form(client, email="p9@example.com", phone="3105550123").status_code == 429


def test_crisis_language_is_never_refused(capped: Flask) -> None:
    client, db = capped.test_client(), capped.extensions["intake.db"]
    for _ in range(3):
        assert post_form(client).status_code == 303
    response = post_form(client, message="I want to kill myself tonight")
    assert response.status_code == 303
    assert submissions(db) == 4


def test_zero_turns_the_cap_off(make_app: Callable[..., Flask]) -> None:
    client = form_app(make_app, SUBMISSIONS_PER_CONTACT_PER_HOUR="0").test_client()
    assert all(post_form(client).status_code == 303 for _ in range(7))


def test_a_place_frees_when_the_oldest_form_turns_an_hour_old(
    make_app: Callable[..., Flask], backend_url: str
) -> None:
    db: Database = make_app(DATABASE_URL=backend_url).extensions["intake.db"]
    now = dt.datetime.now(dt.UTC)
    lead = factories.lead(
        db,
        email="jane@example.com",
        email_key="jane@example.com",
        phone="+13105550123",
        submissions=0,
    )
    for minutes_ago in (50, 20, 5):
        factories.submission(db, lead, created_at=now - dt.timedelta(minutes=minutes_ago))
    with db.session() as session:
        with pytest.raises(contact_limit.SubmissionLimited) as limited:
            contact_limit.check(session, None, "jane@example.com", now, 3)
        assert limited.value.retry_after == 10 * 60
        assert limited.value.minutes == 10
        # Eleven minutes on, the 50-minute-old one has left the window.
        contact_limit.check(session, "+13105550123", None, now + dt.timedelta(minutes=11), 3)
        contact_limit.check(session, None, "jane@example.com", now, 4)
        assert session.scalars(sa.select(Lead)).one().id == lead.id


def test_the_cap_defaults_to_five_and_refuses_a_malformed_value(
    make_settings: Callable[..., Settings],
) -> None:
    assert (
        make_settings(SUBMISSIONS_PER_CONTACT_PER_HOUR="").abuse.submissions_per_contact_per_hour
        == 5
    )
    with pytest.raises(ConfigError, match="SUBMISSIONS_PER_CONTACT_PER_HOUR"):
        make_settings(SUBMISSIONS_PER_CONTACT_PER_HOUR="five")
