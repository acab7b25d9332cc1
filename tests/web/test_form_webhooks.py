"""Form-builder webhooks: a good signature (or secret path) makes a lead through intake.submit;
a bad one is 403 with nothing stored. Payloads follow each builder's documented shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from intake_service.db import Database
from intake_service.models import Lead, Submission
from intake_service.security.form_signatures import signature

SECRETS = "gravity=g-secret,wpforms=w-secret,jotform=j-secret,typeform=t-secret"

GRAVITY = {
    "id": "17",
    "form_id": "2",
    "1.3": "Jane",
    "1.6": "Doe",
    "2": "jane@example.com",
    "3": "(310) 555-0123",
    "4": "Is TMS covered by insurance?",
}
WPFORMS = {
    "entry_id": "88",
    "first_name": "Ana",
    "last_name": "Ruiz",
    "email": "ana@example.com",
    "phone": "",
    "message": "",
}
TYPEFORM = {
    "event_id": "01H",
    "event_type": "form_response",
    "form_response": {
        "form_id": "lT4Z3j",
        "token": "a3a12ec67a1365927098a606107fac15",
        "answers": [
            {
                "type": "text",
                "text": "Lee",
                "field": {"id": "1", "type": "short_text", "ref": "first_name"},
            },
            {
                "type": "email",
                "email": "lee@example.com",
                "field": {"id": "2", "type": "email", "ref": "email"},
            },
            {
                "type": "phone_number",
                "phone_number": "+13105550123",
                "field": {"id": "3", "type": "phone_number", "ref": "phone"},
            },
        ],
    },
}
JOTFORM_RAW = {
    "q3_name": {"first": "Sam", "last": "Oh"},
    "q4_email": "sam@example.com",
    "q5_phoneNumber": {"full": "(310) 555-0123"},
    "q6_message": "Evenings are best",
}


@pytest.fixture
def hook_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(FORM_WEBHOOK_SECRETS=SECRETS)


def count(app: Flask, model: type[Any]) -> int:
    db: Database = app.extensions["intake.db"]
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def signed(body: bytes, secret: str, encoding: str = "hex") -> str:
    return "sha256=" + signature(secret, body, encoding)


@pytest.mark.parametrize(
    ("source", "payload", "header", "secret", "encoding", "first_name"),
    [
        ("gravity", GRAVITY, "X-Intake-Signature", "g-secret", "hex", "Jane"),
        ("wpforms", WPFORMS, "X-Intake-Signature", "w-secret", "hex", "Ana"),
        ("typeform", TYPEFORM, "Typeform-Signature", "t-secret", "base64", "Lee"),
    ],
)
def test_signed_post_makes_a_lead(
    hook_app: Flask,
    source: str,
    payload: dict[str, Any],
    header: str,
    secret: str,
    encoding: str,
    first_name: str,
) -> None:
    body = json.dumps(payload).encode()
    response = hook_app.test_client().post(
        f"/webhooks/forms/{source}",
        data=body,
        content_type="application/json",
        headers={header: signed(body, secret, encoding)},
    )

    assert response.status_code == 201, response.text
    db: Database = hook_app.extensions["intake.db"]
    with db.session() as session:
        lead = session.scalars(select(Lead)).one()
        assert lead.first_name == first_name
        assert lead.source == {"form_builder": source}
        submission = session.scalars(select(Submission)).one()
        assert submission.via == "forms"
        assert str(submission.lead_id) == response.json["lead_id"]


def test_a_retried_entry_makes_one_submission(hook_app: Flask) -> None:
    body = json.dumps(GRAVITY).encode()
    headers = {"X-Intake-Signature": signed(body, "g-secret")}
    client = hook_app.test_client()
    first = client.post(
        "/webhooks/forms/gravity", data=body, content_type="application/json", headers=headers
    )
    again = client.post(
        "/webhooks/forms/gravity", data=body, content_type="application/json", headers=headers
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["lead_id"] == first.json["lead_id"]
    assert count(hook_app, Submission) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Intake-Signature": "sha256=" + "0" * 64},
        {"X-Intake-Signature": signed(b"another body", "g-secret")},
        {"X-Intake-Signature": signed(b"{}", "w-secret")},
    ],
)
def test_bad_or_missing_signature_is_refused_and_nothing_is_stored(
    hook_app: Flask, headers: dict[str, str]
) -> None:
    body = json.dumps(GRAVITY).encode()
    response = hook_app.test_client().post(
        "/webhooks/forms/gravity", data=body, content_type="application/json", headers=headers
    )

    assert response.status_code == 403
    assert "secret" in response.json["error"]
    assert count(hook_app, Lead) == 0


def test_jotform_posts_to_its_secret_path(hook_app: Flask) -> None:
    client = hook_app.test_client()
    form = {"submissionID": "5730", "formID": "2", "rawRequest": json.dumps(JOTFORM_RAW)}

    wrong = client.post("/webhooks/forms/jotform/not-the-secret", data=form)
    right = client.post("/webhooks/forms/jotform/j-secret", data=form)

    assert wrong.status_code == 403
    assert right.status_code == 201, right.text
    db: Database = hook_app.extensions["intake.db"]
    with db.session() as session:
        lead = session.scalars(select(Lead)).one()
        assert (lead.first_name, lead.last_name, lead.phone) == ("Sam", "Oh", "+13105550123")


def test_a_source_without_a_secret_is_refused(make_app: Callable[..., Flask]) -> None:
    app = make_app(FORM_WEBHOOK_SECRETS="gravity=g-secret")
    body = json.dumps(TYPEFORM).encode()
    response = app.test_client().post(
        "/webhooks/forms/typeform",
        data=body,
        content_type="application/json",
        headers={"Typeform-Signature": signed(body, "", "base64")},
    )
    assert response.status_code == 404
    assert app.test_client().post("/webhooks/forms/nosuch", data=b"{}").status_code == 404
    assert count(app, Lead) == 0


def test_a_mapped_post_meets_the_same_rules_as_the_forms(hook_app: Flask) -> None:
    body = json.dumps({**GRAVITY, "1.3": "", "2": "not-an-email", "3": ""}).encode()
    response = hook_app.test_client().post(
        "/webhooks/forms/gravity",
        data=body,
        content_type="application/json",
        headers={"X-Intake-Signature": signed(body, "g-secret")},
    )

    assert response.status_code == 422
    assert set(response.json["errors"]) == {"contact.first_name", "contact.email"}
    assert count(hook_app, Lead) == 0


def test_seeded_maps_send_no_automatic_messages_without_a_known_consent_wording(
    hook_app: Flask,
) -> None:
    # The builder's form shows the clinic's own words, not a consent wording the service knows.
    body = json.dumps(GRAVITY).encode()
    hook_app.test_client().post(
        "/webhooks/forms/gravity",
        data=body,
        content_type="application/json",
        headers={"X-Intake-Signature": signed(body, "g-secret")},
    )
    from intake_service.models import ConsentEvent

    assert count(hook_app, ConsentEvent) == 0
