"""Bad, odd and hostile input to the submissions API: JSON sentences, no 500s, nothing stored."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.models import ConsentEvent, Lead, OutboxEvent, Submission

URL = "/api/v1/submissions"
MIB = 1024 * 1024

VALID: dict[str, Any] = {
    "form": "phq9",
    "contact": {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.com",
        "phone": "(310) 555-0123",
        "callback_window": "evening",
    },
    "treatment_interest": "tms",
    "message": "I would like to talk about treatment options.",
    "answers": {"items": [1, 2, 1, 0, 3, 1, 2, 0, 0]},
    "consent": {"sms": True, "email": True},
    "source": {"page": "https://clinic.example/tms", "utm_source": "google"},
}


def valid(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    body.update(changes)
    return body


def with_contact(**changes: Any) -> dict[str, Any]:
    body = valid()
    body["contact"].update(changes)
    return body


def without(*fields: str) -> dict[str, Any]:
    body = valid()
    for name in fields:
        section, _, key = name.rpartition(".")
        (body[section] if section else body).pop(key)
    return body


@pytest.fixture
def api_app(make_app: Callable[..., Flask]) -> Flask:
    """SQLite, with CSRF protection on as in production (the API must be exempt)."""
    app = make_app()
    assert app.config.get("WTF_CSRF_ENABLED", True)
    return app


@pytest.fixture
def api_client(api_app: Flask) -> Any:
    return api_app.test_client()


@pytest.fixture
def api_db(api_app: Flask) -> Database:
    database: Database = api_app.extensions["intake.db"]
    return database


def nothing_stored(db: Database) -> bool:
    with db.session() as session:
        return all(
            session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
            for model in (Lead, Submission, ConsentEvent, OutboxEvent)
        )


def sentence(response: Any) -> str:
    """The error's human sentence; fails unless the body is JSON with one."""
    assert response.mimetype == "application/json", response.data[:200]
    text = response.get_json()["error"]
    assert isinstance(text, str) and text[0].isupper() and text.endswith(".")
    return text


def post_raw(client: Any, data: bytes | str, content_type: str | None = "application/json") -> Any:
    headers = {"Content-Type": content_type} if content_type else {}
    return client.post(URL, data=data, headers=headers)


@pytest.mark.parametrize(
    "data",
    [
        b'{"form": "contact",',
        b"{'form': 'contact'}",
        b'{"form": "contact"} trailing',
        b'{"message": NaN}',
        b'{"answers": {"items": [Infinity]}}',
        b"\xff\xfe{}",
        b'{"form": "\xc3"}',
        b"[" * 30_000 + b"]" * 30_000,
        b'{"n": ' + b"9" * 10_000 + b"}",
    ],
    ids=[
        "truncated",
        "single-quotes",
        "trailing-garbage",
        "nan",
        "infinity",
        "utf16-bom",
        "invalid-utf8",
        "deep-nesting",
        "huge-integer",
    ],
)
def test_malformed_json_is_400(api_client: Any, api_db: Database, data: bytes) -> None:
    response = post_raw(api_client, data)

    assert response.status_code == 400
    assert "JSON" in sentence(response)
    assert nothing_stored(api_db)


@pytest.mark.parametrize("data", [b"", b"   \n", b"[]", b'"contact"', b"null", b"42", b"true"])
def test_empty_body_or_non_object_is_400(api_client: Any, api_db: Database, data: bytes) -> None:
    response = post_raw(api_client, data)

    assert response.status_code == 400
    sentence(response)
    assert nothing_stored(api_db)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/vnd.api+json",
        "application/json; charset=latin-1",
    ],
)
def test_wrong_content_type_is_415(
    api_client: Any, api_db: Database, content_type: str | None
) -> None:
    response = post_raw(api_client, json.dumps(VALID), content_type)

    assert response.status_code == 415
    assert "JSON" in sentence(response)
    assert nothing_stored(api_db)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_a_1_mib_body_is_413(api_client: Any, api_db: Database, content_type: str) -> None:
    body = valid(message="x" * MIB)

    response = post_raw(api_client, json.dumps(body), content_type)

    assert response.status_code == 413
    assert "64 KiB" in sentence(response)
    assert nothing_stored(api_db)


def test_a_body_just_over_64_kib_is_413(api_client: Any, api_db: Database) -> None:
    padding = 64 * 1024 - len(json.dumps(valid(message=""))) + 1
    data = json.dumps(valid(message="x" * padding))
    assert len(data) == 64 * 1024 + 1

    assert post_raw(api_client, data).status_code == 413
    assert nothing_stored(api_db)


def chunked_post(client: Any, data: bytes) -> Any:
    # What a WSGI server hands over for Transfer-Encoding: chunked: no Content-Length, and
    # wsgi.input_terminated to say the server ends the stream (werkzeug's server and gunicorn do).
    return client.post(
        URL,
        input_stream=io.BytesIO(data),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_64_kib_is_413(api_client: Any, api_db: Database) -> None:
    response = chunked_post(api_client, json.dumps(valid(message="x" * MIB)).encode())

    assert response.status_code == 413
    sentence(response)
    assert nothing_stored(api_db)


def test_a_small_chunked_body_is_accepted(api_client: Any) -> None:
    assert chunked_post(api_client, json.dumps(VALID).encode()).status_code == 201


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        (without("contact"), ["contact"]),
        (without("form"), ["form"]),
        (valid(contact=None), ["contact"]),
        (valid(contact=["Jane", "jane@example.com"]), ["contact"]),
        (valid(contact="Jane"), ["contact"]),
        (with_contact(phone="555"), ["contact.phone"]),
        (with_contact(phone="call me maybe"), ["contact.phone"]),
        (with_contact(phone="+1 " + "3" * 60), ["contact.phone"]),
        (with_contact(email="jane@"), ["contact.email"]),
        (with_contact(email="not an email"), ["contact.email"]),
        (with_contact(email="jane@example.com", phone="12"), ["contact.phone"]),
        (with_contact(email=None, phone=None), ["contact.email"]),
        (with_contact(email="", phone="  "), ["contact.email"]),
        (valid(form="survey"), ["form"]),
        (valid(form=7), ["form"]),
        (valid(form=None), ["form"]),
        (with_contact(first_name="J" * 10_000), ["contact.first_name"]),
        (with_contact(last_name="D" * 10_000), ["contact.last_name"]),
        (with_contact(first_name="   "), ["contact.first_name"]),
        (with_contact(first_name=42), ["contact.first_name"]),
        (with_contact(first_name=["Jane"]), ["contact.first_name"]),
        (with_contact(first_name={"text": "Jane"}), ["contact.first_name"]),
        (with_contact(first_name="Ja\x00ne"), ["contact.first_name"]),
        (with_contact(callback_window="midnight"), ["contact.callback_window"]),
        (valid(treatment_interest="botox"), ["treatment_interest"]),
        (valid(message="m" * 5001), ["message"]),
        (valid(message=12345), ["message"]),
        (valid(source={"page": "p" * 2001}), ["source.page"]),
        (valid(source={"k" * 101: "v"}), ["source.*"]),
        (valid(source={"utm_id": 123}), ["source.utm_id"]),
        (valid(source=["google"]), ["source"]),
        (
            valid(
                consent={"sms": True, "email": True},
                contact={"first_name": "J", "email": "j@example.com"},
            ),
            ["contact.phone"],
        ),
        (valid(consent={"sms": "yes"}), ["consent.sms"]),
        (valid(consent={"sms": 1}), ["consent.sms"]),
        (valid(consent={"sms": True, "wording_version": "sms-1999"}), ["consent.wording_version"]),
        (valid(consent=True), ["consent"]),
        (valid(answers=None), ["answers"]),
        (valid(answers=[1, 2, 3]), ["answers"]),
        (valid(answers={"items": [1] * 8}), ["answers.items"]),
        (valid(answers={"items": [1, 2, 1, 0, 4, 1, 2, 0, 0]}), ["answers.items.4"]),
        (valid(answers={"items": [1, 2, 1, 0, -1, 1, 2, 0, 0]}), ["answers.items.4"]),
        (valid(answers={"items": [True] * 9}), ["answers.items.0"]),
        (valid(answers={"items": [1.5] * 9}), ["answers.items.0"]),
        (valid(answers={"items": ["1"] * 9}), ["answers.items.0"]),
        (valid(answers={"items": [[[[]]]] * 9}), ["answers.items.0"]),
        (valid(answers={"items": [1] * 9, "extra": {"deep": [{"x": None}]}}), ["answers.items"]),
        (valid(form="gad7"), ["answers.items"]),  # nine answers for a seven-item scale
        (valid(form="tms_screen"), ["answers.struggles_with_depression_ocd_anxiety"]),
        (valid(form="contact"), ["answers.struggles_with_depression_ocd_anxiety"]),
        (valid(unexpected="field"), ["unexpected"]),
        (with_contact(full_name="Jane Doe"), ["contact.full_name"]),
    ],
)
def test_invalid_fields_are_422_with_dotted_paths(
    api_client: Any, api_db: Database, body: dict[str, Any], paths: list[str]
) -> None:
    response = api_client.post(URL, json=body)

    assert response.status_code == 422, response.get_json()
    sentence(response)
    errors = response.get_json()["errors"]
    assert set(paths) <= set(errors), errors
    assert all(isinstance(text, str) and text.endswith(".") for text in errors.values())
    assert nothing_stored(api_db)


def test_every_problem_in_the_shape_is_reported_at_once(api_client: Any) -> None:
    body = with_contact(first_name="J" * 101, email="nope", phone="555")
    body["message"] = "m" * 5001

    errors = api_client.post(URL, json=body).get_json()["errors"]

    assert set(errors) == {"contact.first_name", "contact.email", "contact.phone", "message"}
    assert errors["contact.first_name"] == "Use at most 100 characters."


# Every field gets every JSON type; each answer must be a 201 or a 422, never anything else.
FIELDS = [
    "form",
    "contact",
    "contact.first_name",
    "contact.last_name",
    "contact.email",
    "contact.phone",
    "contact.callback_window",
    "treatment_interest",
    "message",
    "answers",
    "answers.items",
    "consent",
    "consent.sms",
    "consent.email",
    "consent.wording_version",
    "source",
    "source.page",
]
GARBAGE: list[Any] = [
    0,
    -1.5,
    True,
    None,
    "",
    "x" * 10_000,
    [],
    {},
    [1, "a", None],
    {"a": {"b": [{"c": []}]}},
]


@pytest.mark.parametrize("field", FIELDS)
def test_wrong_types_anywhere_never_cause_a_server_error(api_client: Any, field: str) -> None:
    for garbage in GARBAGE:
        body = valid()
        section, _, key = field.rpartition(".")
        (body[section] if section else body)[key] = garbage

        response = api_client.post(URL, json=body)

        assert response.status_code in (201, 422), (field, garbage, response.data[:300])
        if response.status_code == 422:
            sentence(response)


@pytest.mark.parametrize(
    "key",
    ["", " ", "k" * 201, "caf\u00e9", "tab\there", "line\x7fbreak"],
    ids=["empty", "blank", "too-long", "non-ascii", "control", "del"],
)
def test_bad_idempotency_key_is_400(api_client: Any, api_db: Database, key: str) -> None:
    response = api_client.post(URL, json=VALID, headers={"Idempotency-Key": key})

    assert response.status_code == 400
    assert "Idempotency-Key" in sentence(response)
    assert "Idempotency-Key" in response.get_json()["errors"]
    assert nothing_stored(api_db)


def test_longest_idempotency_key_with_inner_spaces_is_accepted(api_client: Any) -> None:
    key = "order 42 ~!" + "k" * 189
    assert len(key) == 200

    assert api_client.post(URL, json=VALID, headers={"Idempotency-Key": key}).status_code == 201


SCRIPT = "<script>alert('x')</script>"
MARKUP = '<img src=x onerror="alert(1)">'


def test_html_and_script_in_free_text_are_stored_as_typed_and_never_echoed(
    api_client: Any, api_db: Database
) -> None:
    body = valid(message=f"{SCRIPT} {MARKUP}", source={"page": SCRIPT, SCRIPT[:50]: MARKUP})

    response = api_client.post(URL, json=body)

    assert response.status_code == 201
    assert b"<" not in response.data
    with api_db.session() as session:
        lead = session.scalars(sa.select(Lead)).one()
        assert lead.source == {"page": SCRIPT, SCRIPT[:50]: MARKUP}
        assert session.scalars(sa.select(Submission)).one().message == f"{SCRIPT} {MARKUP}"


def test_markup_in_names_is_refused_and_never_echoed(api_client: Any, api_db: Database) -> None:
    response = api_client.post(URL, json=with_contact(first_name=SCRIPT, last_name=MARKUP))

    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"contact.first_name", "contact.last_name"}
    assert b"<" not in response.data and b"script" not in response.data
    assert nothing_stored(api_db)


def test_markup_in_rejected_fields_and_keys_is_never_echoed(
    api_client: Any, api_db: Database
) -> None:
    body = valid(form=SCRIPT, treatment_interest=SCRIPT, answers={SCRIPT: True})
    body[SCRIPT] = SCRIPT
    body["contact"].update(callback_window=SCRIPT, email=SCRIPT, phone=SCRIPT)
    body["source"] = {SCRIPT * 10: "v"}

    response = api_client.post(URL, json=body)

    assert response.status_code == 422
    assert b"<" not in response.data and b"script" not in response.data
    assert nothing_stored(api_db)


def test_markup_in_tms_answer_keys_is_never_echoed(api_client: Any, api_db: Database) -> None:
    answers = dict.fromkeys(
        [
            "struggles_with_depression_ocd_anxiety",
            "has_symptoms",
            "tried_antidepressants",
            "tried_talk_therapy",
            "doctor_suggested_tms",
            SCRIPT,
        ],
        True,
    )

    response = api_client.post(URL, json=valid(form="tms_screen", answers=answers))

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["answers.*"]
    assert b"<" not in response.data
    assert nothing_stored(api_db)


@pytest.mark.parametrize(
    "name",
    [
        "Zo\u00eb",
        "\u674e\u5c0f\u9f99",
        "\u0645\u0631\u064a\u0645",
        "\u5c71\u7530\u3000\u592a\u90ce",  # an ideographic space, as Japanese keyboards type it
        "\u674e" * 100,
    ],
)
def test_names_in_any_script_are_stored_as_typed(
    api_client: Any, api_db: Database, name: str
) -> None:
    response = api_client.post(URL, json=with_contact(first_name=name, last_name=name))

    assert response.status_code == 201
    with api_db.session() as session:
        lead = session.scalars(sa.select(Lead)).one()
        assert (lead.first_name, lead.last_name) == (name, name)


def test_a_name_of_101_characters_outside_ascii_is_too_long(
    api_client: Any, api_db: Database
) -> None:
    response = api_client.post(URL, json=with_contact(first_name="\u674e" * 101))

    assert response.status_code == 422
    assert nothing_stored(api_db)


def test_lone_surrogate_escapes_are_422_not_a_database_error(
    api_client: Any, api_db: Database
) -> None:
    data = json.dumps(valid()).replace('"Jane"', '"Ja\\ud800ne"')

    response = post_raw(api_client, data)

    assert response.status_code == 422
    assert "contact.first_name" in response.get_json()["errors"]
    assert nothing_stored(api_db)


def test_strings_are_trimmed(api_client: Any, api_db: Database) -> None:
    body = with_contact(first_name="  Jane\t", last_name="\nDoe  ")
    body["message"] = "  Please call after 5.\n"

    assert api_client.post(URL, json=body).status_code == 201

    with api_db.session() as session:
        lead = session.scalars(sa.select(Lead)).one()
        assert (lead.first_name, lead.last_name) == ("Jane", "Doe")
        assert session.scalars(sa.select(Submission)).one().message == "Please call after 5."


def test_json_with_a_byte_order_mark_is_accepted(api_client: Any) -> None:
    data = b"\xef\xbb\xbf" + json.dumps(VALID).encode()

    assert post_raw(api_client, data).status_code == 201


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"],
)
def test_json_content_type_with_utf8_charset_is_accepted(
    api_client: Any, content_type: str
) -> None:
    assert post_raw(api_client, json.dumps(VALID), content_type).status_code == 201


def test_non_ascii_json_is_read_as_utf8(api_client: Any, api_db: Database) -> None:
    data = json.dumps(with_contact(first_name="Jos\u00e9"), ensure_ascii=False).encode()

    assert post_raw(api_client, data).status_code == 201
    with api_db.session() as session:
        assert session.scalars(sa.select(Lead.first_name)).one() == "Jos\u00e9"


def test_csrf_token_is_not_needed(api_client: Any) -> None:
    # CSRF protection is on in this app: a form post without a token would get 400.
    assert api_client.post(URL, json=VALID).status_code == 201


def test_other_methods_are_405_in_json(api_client: Any) -> None:
    response = api_client.get(URL)

    assert response.status_code == 405
    sentence(response)


@pytest.mark.parametrize(
    "body",
    [
        with_contact(first_name="Ja\x00ne"),
        valid(message="call me\x00"),
        valid(source={"page": "https://clinic.example/\x00"}),
        valid(source={"utm\x00": "google"}),
    ],
    ids=["name", "message", "source-value", "source-key"],
)
def test_nul_characters_are_422_on_both_backends(
    make_app: Callable[..., Flask], backend_url: str, body: dict[str, Any]
) -> None:
    # PostgreSQL cannot store NUL in text: unchecked, this would be a database error (503).
    app = make_app(DATABASE_URL=backend_url)

    response = app.test_client().post(URL, json=body)

    assert response.status_code == 422
    assert nothing_stored(app.extensions["intake.db"])
