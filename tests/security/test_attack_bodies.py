"""Hostile bodies: oversized, deeply nested, wrong-typed, non-UTF-8, duplicate-key JSON and
broken form posts get a clear 4xx with a sentence, never a 500, and nothing is stored."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.models import Lead, Submission

pytestmark = pytest.mark.security

API = "/api/v1/submissions"
VALID: dict[str, Any] = {
    "form": "contact",
    "contact": {"first_name": "Jane", "last_name": "Doe", "phone": "(310) 555-0123"},
    "treatment_interest": "tms",
    "message": "hello",
    "consent": {"sms": True, "email": True},
    "source": {"page": "https://clinic.example/tms"},
}


def nested(depth: int) -> str:
    """An object `depth` deep, as JSON text (json.dumps itself cannot go that deep)."""
    return '{"a": ' * depth + "1" + "}" * depth


def raw_cases() -> Iterator[tuple[str, bytes, str]]:
    """(description, body, content type) of requests no API client should be able to store."""
    json_type = "application/json"
    yield "64 KiB + 1", b'{"form": "' + b"x" * (64 * 1024) + b'"}', json_type
    yield "1 MiB", b"[" + b"1," * (512 * 1024) + b"1]", json_type
    yield "deep arrays", b"[" * 100_000 + b"]" * 100_000, json_type
    yield "deep objects", nested(5_000).encode(), json_type
    deep_field = json.dumps({**VALID, "source": "DEEP"}).replace('"DEEP"', nested(900))
    yield "deep inside a field", deep_field.encode(), json_type
    yield "latin-1 bytes", '{"form": "contact", "message": "caf\xe9"}'.encode("latin-1"), json_type
    yield "invalid utf-8", b'{"form": "\xff\xfe\xfa"}', json_type
    yield "overlong utf-8", b'{"form": "\xc0\xaf"}', json_type
    yield "utf-16", json.dumps(VALID).encode("utf-16"), json_type
    yield "lone surrogate", b'{"form": "contact", "contact": {"first_name": "\\ud800"}}', json_type
    yield "nul", b'{"form": "contact\\u0000"}', json_type
    yield "NaN", b'{"form": "contact", "answers": {"items": [NaN]}}', json_type
    yield (
        "huge number",
        b'{"form": "contact", "answers": {"items": [1' + b"0" * 5000 + b"]}}",
        json_type,
    )
    yield "1e999", b'{"form": "contact", "answers": {"items": [1e999]}}', json_type
    yield "duplicate top key", b'{"form": "contact", "form": "phq9"}', json_type
    yield (
        "duplicate nested key",
        json.dumps(VALID).replace('"sms": true', '"sms": false, "sms": true').encode(),
        json_type,
    )
    yield "trailing garbage", json.dumps(VALID).encode() + b"}}", json_type
    yield "two documents", json.dumps(VALID).encode() * 2, json_type
    yield "empty", b"", json_type
    yield "null", b"null", json_type
    yield "array", json.dumps([VALID]).encode(), json_type
    yield "string", b'"hello"', json_type
    yield "text/plain", json.dumps(VALID).encode(), "text/plain"
    yield "form encoded", b"form=contact", "application/x-www-form-urlencoded"
    yield "multipart", b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x"
    yield "latin-1 charset", json.dumps(VALID).encode(), "application/json; charset=latin-1"
    yield "xml", b"<submission/>", "application/xml"


WRONG_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, 10**30, "", "x" * 6000, [], {}, ["contact"], {"$ne": None},
    "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd",
]  # fmt: skip
FIELDS = [
    ("form",),
    ("contact",),
    ("contact", "first_name"),
    ("contact", "email"),
    ("contact", "phone"),
    ("contact", "callback_window"),
    ("treatment_interest",),
    ("message",),
    ("answers",),
    ("consent",),
    ("consent", "sms"),
    ("source",),
    ("source", "page"),
]


def with_value(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    document = json.loads(json.dumps(VALID))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


def stored(db: Database) -> int:
    with db.session() as session:
        leads = session.scalar(sa.select(sa.func.count()).select_from(Lead)) or 0
        submissions = session.scalar(sa.select(sa.func.count()).select_from(Submission)) or 0
        return leads + submissions


def clear_refusal(response: Any) -> bool:
    if not 400 <= response.status_code < 500:
        return False
    body = response.get_json(silent=True)
    return isinstance(body, dict) and isinstance(body.get("error"), str) and len(body["error"]) > 10


@pytest.fixture
def api(app: Flask) -> Any:
    return app.test_client()


def test_hostile_raw_bodies_are_refused_clearly(
    api: Any, db: Database, tally: Callable[..., Any]
) -> None:
    cases = tally("bodies: raw")
    for description, body, content_type in raw_cases():
        response = api.post(API, data=body, content_type=content_type)
        cases.case(
            clear_refusal(response), f"{description}: {response.status_code} {response.data[:80]!r}"
        )
    chunked = api.post(
        API,
        input_stream=io.BytesIO(b'{"form": "' + b"x" * (70 * 1024) + b'"}'),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    cases.case(clear_refusal(chunked), f"chunked 70 KiB: {chunked.status_code}")
    cases.case(stored(db) == 0, "a hostile body was stored")
    cases.check()


def test_wrong_types_in_every_field_are_refused_clearly(
    api: Any, db: Database, tally: Callable[..., Any]
) -> None:
    cases = tally("bodies: wrong types")
    accepted = 0
    for path in FIELDS:
        for value in WRONG_VALUES:
            response = api.post(API, json=with_value(path, value))
            if response.status_code == 201:
                accepted += 1  # some values are fine where they are (a message of markup)
                continue
            cases.case(
                clear_refusal(response),
                f"{'.'.join(path)}={str(value)[:30]!r}: {response.status_code}",
            )
            cases.case(b"<script>" not in response.data, f"{'.'.join(path)}: markup echoed back")
    # One submission per accepted post (the same person again joins their lead, so leads
    # can be fewer); a refused post stores nothing.
    with db.session() as session:
        submissions = session.scalar(sa.select(sa.func.count()).select_from(Submission))
    cases.case(submissions == accepted, "a refused body was stored")
    cases.check()


def test_public_forms_refuse_broken_posts(
    app: Flask, db: Database, tally: Callable[..., Any]
) -> None:
    cases = tally("bodies: forms")
    client = app.test_client()
    for path in ("/contact", "/screening/tms", "/screening/phq9", "/screening/gad7"):
        too_big = client.post(path, data={"message": "x" * (70 * 1024)})
        cases.case(too_big.status_code == 413, f"{path} 70 KiB: {too_big.status_code}")
        latin = client.post(
            path,
            data=b"first_name=Jos%E9&message=%FF%FE",
            content_type="application/x-www-form-urlencoded",
        )
        cases.case(400 <= latin.status_code < 500, f"{path} non-UTF-8: {latin.status_code}")
        repeated = client.post(
            path,
            data="&".join(["first_name=a"] * 2000),
            content_type="application/x-www-form-urlencoded",
        )
        cases.case(repeated.status_code < 500, f"{path} 2000 fields: {repeated.status_code}")
    cases.case(stored(db) == 0, "a broken form post was stored")
    cases.check()
