"""POST /api/v1/submissions and GET /api/v1/openapi.json: what a clinic's integration relies on."""

from __future__ import annotations

import copy
import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from flask import Flask
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import select
from werkzeug.serving import make_server

from intake_service import create_app
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain.compliance import consent
from intake_service.extensions import limiter
from intake_service.migrate import upgrade
from intake_service.models import ConsentEvent, Lead, OutboxEvent, Submission

URL = "/api/v1/submissions"

# The example in CONTRACT.md, as printed there: a contact form carrying the TMS items.
CONTRACT_EXAMPLE: dict[str, Any] = {
    "form": "contact",
    "contact": {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.com",
        "phone": "(310) 555-0123",
        "callback_window": "evening",
    },
    "treatment_interest": "tms",
    "message": "free text, up to 5000 characters",
    "answers": {
        "struggles_with_depression_ocd_anxiety": True,
        "has_symptoms": True,
        "tried_antidepressants": True,
        "tried_talk_therapy": False,
        "doctor_suggested_tms": False,
    },
    "consent": {"sms": True, "email": True},
    "source": {"page": "https://clinic.example/tms", "utm_source": "google"},
}

ANSWERS_BY_FORM: dict[str, dict[str, Any] | None] = {
    "contact": None,
    "tms_screen": CONTRACT_EXAMPLE["answers"],
    "phq9": {"items": [1, 2, 1, 0, 3, 1, 2, 0, 0]},
    "gad7": {"items": [2, 2, 1, 3, 0, 1, 2]},
}


def test_contract_example_is_accepted_and_triaged_as_a_tms_screen(app: Flask) -> None:
    response = app.test_client().post(URL, json=CONTRACT_EXAMPLE)
    assert response.status_code == 201, response.get_json()
    db = app.extensions["intake.db"]
    with db.session() as session:
        submission = session.scalars(select(Submission)).one()
        assert submission.form == "contact"
        assert submission.answers == CONTRACT_EXAMPLE["answers"]


def body_for(form: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(CONTRACT_EXAMPLE)
    body["form"] = form
    body["answers"] = copy.deepcopy(ANSWERS_BY_FORM[form])
    body.update(changes)
    return body


def post(client: Any, body: Any, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(URL, json=body, headers=headers)


def stored_rows(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {
            model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
            for model in (Lead, Submission, ConsentEvent, OutboxEvent)
        }


@pytest.fixture
def api_app(make_app: Callable[..., Flask], backend_url: str) -> Flask:
    """An app on SQLite and then on PostgreSQL, CSRF protection on as in production."""
    return make_app(DATABASE_URL=backend_url)


@pytest.fixture
def api_db(api_app: Flask) -> Database:
    database: Database = api_app.extensions["intake.db"]
    return database


@pytest.mark.parametrize("form", ["contact", "tms_screen", "phq9", "gad7"])
def test_each_form_stores_one_lead_submission_and_outbox_event(
    api_app: Flask, api_db: Database, form: str
) -> None:
    response = post(api_app.test_client(), body_for(form))

    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert set(answer) == {"lead_id", "submission_id", "urgent", "message"}
    assert answer["urgent"] is False
    assert "988" in answer["message"]
    assert stored_rows(api_db) == {
        "leads": 1,
        "submissions": 1,
        "consent_events": 2,  # SMS and email were both ticked
        "outbox_events": 1,
    }
    with api_db.session() as session:
        submission = session.get(Submission, uuid.UUID(answer["submission_id"]))
        assert submission is not None
        assert str(submission.lead_id) == answer["lead_id"]
        assert (submission.form, submission.via) == (form, "api")
        assert submission.answers == ANSWERS_BY_FORM[form]
        assert submission.message == "free text, up to 5000 characters"
        event = session.scalars(sa.select(OutboxEvent)).one()
        assert str(event.lead_id) == answer["lead_id"]


@pytest.mark.parametrize("form", ["tms_screen", "phq9"])
def test_answers_and_message_are_encrypted_in_the_database(
    api_app: Flask, api_db: Database, form: str
) -> None:
    assert post(api_app.test_client(), body_for(form)).status_code == 201

    with api_db.engine.connect() as conn:
        raw_answers, raw_message = conn.execute(
            sa.text("SELECT answers, message FROM submissions")
        ).one()
    plaintext = json.dumps(ANSWERS_BY_FORM[form], sort_keys=True)
    assert raw_answers != plaintext
    assert "items" not in raw_answers and "tried" not in raw_answers
    assert "free text" not in raw_message


def test_phone_is_stored_in_e164_and_email_normalised(api_app: Flask, api_db: Database) -> None:
    body = body_for("contact")
    body["contact"].update(phone="  (310) 555-0123 ", email=" Jane@Example.COM ")

    assert post(api_app.test_client(), body).status_code == 201

    with api_db.session() as session:
        lead = session.scalars(sa.select(Lead)).one()
        assert lead.phone == "+13105550123"
        assert lead.email == "Jane@example.com"  # the domain part is case-insensitive
        assert (lead.first_name, lead.last_name) == ("Jane", "Doe")
        assert lead.callback_window == "evening"
        assert lead.treatment_interest == "tms"
        assert lead.source == {"page": "https://clinic.example/tms", "utm_source": "google"}


def test_no_consent_given_records_no_consent(api_app: Flask, api_db: Database) -> None:
    body = body_for("contact", consent={"sms": False, "email": False})

    assert post(api_app.test_client(), body).status_code == 201

    assert stored_rows(api_db)["consent_events"] == 0


def test_consent_defaults_to_email_only_and_records_its_evidence(
    api_app: Flask, api_db: Database
) -> None:
    body = body_for("contact")
    del body["consent"]

    response = api_app.test_client().post(
        URL,
        json=body,
        headers={"User-Agent": "ClinicSite/1.0"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )

    assert response.status_code == 201
    with api_db.session() as session:
        event = session.scalars(sa.select(ConsentEvent)).one()
        assert (event.channel, event.action, event.source) == ("email", "opt_in", "api")
        assert (event.ip, event.user_agent) == ("203.0.113.7", "ClinicSite/1.0")


def test_sms_consent_keeps_the_wording_shown(api_app: Flask, api_db: Database) -> None:
    version = consent.CURRENT_SMS_WORDING
    body = body_for("contact", consent={"sms": True, "email": False, "wording_version": version})

    assert post(api_app.test_client(), body).status_code == 201

    with api_db.session() as session:
        event = session.scalars(sa.select(ConsentEvent)).one()
        assert (event.channel, event.wording_version) == ("sms", version)
        assert event.wording == consent.SMS_WORDINGS[version]


def test_omitted_optional_fields_take_the_contract_defaults(
    api_app: Flask, api_db: Database
) -> None:
    body = {"form": "contact", "contact": {"first_name": "Ana", "phone": "3105550123"}}

    assert post(api_app.test_client(), body).status_code == 201

    with api_db.session() as session:
        lead = session.scalars(sa.select(Lead)).one()
        assert (lead.callback_window, lead.treatment_interest, lead.email) == (
            "any",
            "unsure",
            None,
        )
        assert lead.source == {}
    assert stored_rows(api_db)["consent_events"] == 0  # email consent, but no email to send to


def test_repeated_key_with_same_body_replays_the_first_answer(
    api_app: Flask, api_db: Database
) -> None:
    client = api_app.test_client()
    first = post(client, body_for("phq9"), key="order-1234")
    again = post(client, body_for("phq9"), key="order-1234")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stored_rows(api_db) == {
        "leads": 1,
        "submissions": 1,
        "consent_events": 2,
        "outbox_events": 1,
    }


def test_repeated_key_with_different_body_is_a_conflict(api_app: Flask, api_db: Database) -> None:
    client = api_app.test_client()
    assert post(client, body_for("phq9"), key="order-1234").status_code == 201
    before = stored_rows(api_db)

    other = body_for("phq9", answers={"items": [3] * 9})
    response = post(client, other, key="order-1234")

    assert response.status_code == 409
    assert "Idempotency-Key" in response.get_json()["error"]
    assert stored_rows(api_db) == before


def test_same_body_without_a_key_is_a_new_submission(api_app: Flask, api_db: Database) -> None:
    client = api_app.test_client()
    first, second = post(client, body_for("gad7")), post(client, body_for("gad7"))

    assert first.get_json()["submission_id"] != second.get_json()["submission_id"]
    assert stored_rows(api_db)["submissions"] == 2


@pytest.fixture
def live_url(api_app: Flask) -> Iterator[str]:
    """The app behind a real threaded HTTP server, so requests truly overlap."""
    server = make_server("127.0.0.1", 0, api_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_concurrent_requests_with_the_same_key_store_one_submission(
    live_url: str, api_db: Database
) -> None:
    clients = 8
    ready = threading.Barrier(clients)
    payload = json.dumps(body_for("tms_screen")).encode()
    answers: list[tuple[int, bytes]] = []

    def send() -> None:
        request = urllib.request.Request(
            live_url + URL,
            data=payload,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": "race-1"},
        )
        ready.wait(timeout=10)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append((response.status, response.read()))
        except urllib.error.HTTPError as error:
            answers.append((error.code, error.read()))

    threads = [threading.Thread(target=send) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [status for status, _ in answers] == [201] * clients, answers
    assert len({json.loads(body)["submission_id"] for _, body in answers}) == 1
    assert stored_rows(api_db) == {
        "leads": 1,
        "submissions": 1,
        "consent_events": 2,
        "outbox_events": 1,
    }


def test_rate_limit_answers_429_with_retry_after(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    # create_app turns the limiter off under APP_ENV=test unless the settings ask for it; the
    # limiter registers its hooks in create_app, so flipping app.config afterwards is too late.
    # The limiter is one object for the process: put its on/off switch back for later tests.
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    settings = make_settings(RATELIMIT_SUBMISSIONS="2 per minute", RATELIMIT_ENABLED="true")
    upgrade(settings.database_url)
    app = create_app(settings)
    try:
        client = app.test_client()
        statuses = [post(client, body_for("contact")).status_code for _ in range(3)]

        assert statuses == [201, 201, 429]
        limited = post(client, body_for("contact"))
        assert limited.status_code == 429
        assert 0 < int(limited.headers["Retry-After"]) <= 60
        assert limited.get_json()["error"].startswith("Too many requests")
        assert stored_rows(app.extensions["intake.db"])["submissions"] == 2
    finally:
        app.extensions["intake.db"].dispose()


def test_unreachable_database_answers_503_with_retry_after(
    make_settings: Callable[..., Settings],
) -> None:
    # Nothing listens on port 1; migrations cannot run there, so build the app directly.
    app = create_app(make_settings(DATABASE_URL="postgresql://postgres@127.0.0.1:1/none"))
    try:
        response = post(app.test_client(), body_for("contact"), key="k-503")

        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert "not stored" in response.get_json()["error"]
    finally:
        app.extensions["intake.db"].dispose()


@pytest.fixture
def openapi(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = json.loads(response.data)
    return document


def test_openapi_document_is_valid_openapi_3_1(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1")
    validate_openapi(openapi)


def test_openapi_document_names_every_status_and_the_idempotency_header(
    openapi: dict[str, Any],
) -> None:
    operation = openapi["paths"]["/api/v1/submissions"]["post"]

    assert set(operation["responses"]) >= {"201", "400", "409", "413", "415", "422", "429", "503"}
    for status in ("429", "503"):
        assert "Retry-After" in operation["responses"][status]["headers"]
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for status, response in operation["responses"].items():
        if status != "201":
            assert response["content"]["application/json"]["schema"] == error_ref
    assert [p["name"] for p in operation["parameters"]] == ["Idempotency-Key"]
    created = openapi["components"]["schemas"]["SubmissionCreated"]
    assert set(created["required"]) == {"lead_id", "submission_id", "urgent", "message"}


def request_schema_validator(openapi: dict[str, Any]) -> jsonschema.Draft202012Validator:
    schema = {"$ref": "#/components/schemas/SubmissionRequest", "components": openapi["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_openapi_request_schema_accepts_the_contract_example(openapi: dict[str, Any]) -> None:
    validator = request_schema_validator(openapi)

    validator.validate(CONTRACT_EXAMPLE)
    validator.validate({**CONTRACT_EXAMPLE, "form": "contact"})  # the example exactly as written
    validator.validate({"form": "contact", "contact": {"first_name": "Ana", "email": None}})
    assert not validator.is_valid({**CONTRACT_EXAMPLE, "form": "survey"})
    assert not validator.is_valid({**CONTRACT_EXAMPLE, "unexpected": 1})


def test_openapi_examples_are_accepted_by_the_api(
    openapi: dict[str, Any], client: Any, db: Database
) -> None:
    content = openapi["paths"]["/api/v1/submissions"]["post"]["requestBody"]["content"]
    examples = content["application/json"]["examples"]

    for example in examples.values():
        assert post(client, example["value"]).status_code == 201
    assert stored_rows(db)["submissions"] == len(examples)
