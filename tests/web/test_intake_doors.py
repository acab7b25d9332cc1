"""The two doors (web forms and JSON API) keep the same rules, share one budget, and turn
crafted input into clear 4xx answers with nothing half-written and nothing lost.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain.intake import rules
from intake_service.extensions import limiter
from intake_service.models import Lead, Submission
from tests.domain.test_intake_transaction import refuse_submission_inserts
from tests.web.test_forms import Page, contact_data, count, error_for, tms_data

API = "/api/v1/submissions"
MARKER = "WOMBAT-8812-PRIVATE"


def api_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "form": "contact",
        "contact": {"first_name": "Ana", "email": "ana@example.com", "phone": "(310) 555-0123"},
    }
    body.update(changes)
    return body


def with_name(name: str) -> dict[str, Any]:
    body = api_body()
    body["contact"]["first_name"] = name
    return body


@pytest.fixture
def doors_app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app()
    app.config["WTF_CSRF_ENABLED"] = False
    return app


@pytest.fixture
def doors_db(doors_app: Flask) -> Database:
    database: Database = doors_app.extensions["intake.db"]
    return database


def stored(db: Database) -> list[Submission]:
    with db.session() as session:
        return list(session.scalars(sa.select(Submission).order_by(Submission.created_at)))


# --- one rule for names, on both doors --------------------------------------------------------

GOOD_NAMES = ["José", "O'Brien", "Nguyễn", "Anne-Marie", "St. John"]
BAD_NAMES = {
    "url": ("clinic-deals.example", rules.NAME_NOT_AN_ADDRESS),
    "link": ("see https://x.example/a", rules.NAME_NOT_AN_ADDRESS),
    "bidi": ("Jane\u202emoc.live", rules.NAME_INVISIBLE),
    "c1": ("Jane\u009b", rules.NAME_INVISIBLE),
    "tab": ("Ja\tne", rules.NAME_INVISIBLE),
    "digits": ("Jane 2", rules.NAME_CHARACTERS),
    "symbols": ("Jane $$$", rules.NAME_CHARACTERS),
}


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_real_names_are_accepted_by_both_doors(
    doors_app: Flask, doors_db: Database, name: str
) -> None:
    client = doors_app.test_client()
    form = client.post("/contact", data=contact_data(first_name=name, last_name=name))
    api = client.post(API, json=with_name(name))

    assert (form.status_code, api.status_code) == (303, 201)
    with doors_db.session() as session:
        assert set(session.scalars(sa.select(Lead.first_name))) == {name}


@pytest.mark.parametrize(("name", "sentence"), BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_names_that_could_carry_links_are_refused_by_both_doors_with_a_sentence(
    doors_app: Flask, doors_db: Database, name: str, sentence: str
) -> None:
    client = doors_app.test_client()
    form = client.post("/contact", data=contact_data(first_name=name))
    api = client.post(API, json=with_name(name))

    assert (form.status_code, api.status_code) == (422, 422)
    assert sentence in error_for(Page(form.text), "first_name")
    assert api.get_json()["errors"] == {"contact.first_name": sentence}
    assert count(doors_db, Submission) == 0


def test_a_refused_last_name_shows_beside_the_other_fields_errors(doors_app: Flask) -> None:
    response = doors_app.test_client().post(
        "/contact", data=contact_data(last_name="bit.ly", phone="555-01")
    )

    page = Page(response.text)
    assert rules.NAME_NOT_AN_ADDRESS in error_for(page, "last_name")
    assert "phone number" in error_for(page, "phone")


# --- one cap for the user agent, one address rule -----------------------------------------------


def test_both_doors_keep_the_same_length_of_user_agent(
    doors_app: Flask, doors_db: Database
) -> None:
    client = doors_app.test_client()
    agent = "Mozilla/5.0 " + "x" * 1200
    client.post("/contact", data=contact_data(), headers={"User-Agent": agent})
    client.post(API, json=api_body(), headers={"User-Agent": agent})

    agents = [submission.user_agent for submission in stored(doors_db)]
    assert agents == [agent[: rules.MAX_USER_AGENT_CHARS]] * 2


@pytest.mark.parametrize("door", ["form", "api"])
def test_a_forwarded_for_that_is_no_address_keeps_the_lead_with_the_peer_address(
    make_app: Callable[..., Flask], pg_url: str, door: str
) -> None:
    # On PostgreSQL this overflowed the 64-character column: a 500, and the lead was lost.
    app = make_app(DATABASE_URL=pg_url, TRUSTED_PROXIES="1")
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    headers = {"X-Forwarded-For": "x" * 80}
    if door == "form":
        response = client.post("/contact", data=contact_data(), headers=headers)
    else:
        response = client.post(API, json=api_body(), headers=headers)

    assert response.status_code in (201, 303)
    (submission,) = stored(app.extensions["intake.db"])
    assert submission.ip == "127.0.0.1"  # the test client's own address, the socket's peer


def test_a_forwarded_ipv6_address_is_stored_normalised(make_app: Callable[..., Flask]) -> None:
    app = make_app(TRUSTED_PROXIES="1")
    response = app.test_client().post(
        API, json=api_body(), headers={"X-Forwarded-For": "2001:DB8:0:0:0:0:0:7"}
    )

    assert response.status_code == 201
    assert stored(app.extensions["intake.db"])[0].ip == "2001:db8::7"


def test_a_logged_database_error_carries_no_parameters(
    make_app: Callable[..., Flask], pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(DATABASE_URL=pg_url)
    refuse_submission_inserts(app.extensions["intake.db"])

    with caplog.at_level(logging.ERROR):
        response = app.test_client().post(
            API,
            json=api_body(message=f"{MARKER} message"),
            headers={"User-Agent": f"{MARKER}-agent"},
            environ_base={"REMOTE_ADDR": "198.51.100.77"},
        )

    assert response.status_code == 500
    logged = caplog.text  # messages with their formatted tracebacks
    assert "submission refused" in logged  # the traceback is there, the parameters are not
    assert MARKER not in logged and "198.51.100.77" not in logged


# --- one idempotency key space per door ---------------------------------------------------------


def test_an_api_key_spelling_a_form_token_does_not_touch_that_form(
    doors_app: Flask, doors_db: Database
) -> None:
    client = doors_app.test_client()
    token = str(uuid.uuid4())
    form_data = contact_data(submission_token=token, message="Please call after six.")
    first = client.post("/contact", data=form_data)

    claim = client.post(API, json=api_body(), headers={"Idempotency-Key": f"web-form:{token}"})

    assert claim.status_code == 201  # its own submission: no 409, and no replay of the form's
    assert claim.headers.get("Idempotent-Replayed") is None
    again = client.post("/contact", data=form_data)  # the double click still makes one
    assert again.headers["Location"] == first.headers["Location"]
    assert [s.via for s in stored(doors_db)] == ["web", "api"]


def test_a_form_token_claimed_first_through_the_api_still_stores_the_form(
    doors_app: Flask, doors_db: Database
) -> None:
    client = doors_app.test_client()
    token = str(uuid.uuid4())
    client.post(API, json=api_body(), headers={"Idempotency-Key": f"web-form:{token}"})

    response = client.post(
        "/contact", data=contact_data(submission_token=token, message="Please call after six.")
    )

    assert response.status_code == 303
    web = [s for s in stored(doors_db) if s.via == "web"]
    assert [s.message for s in web] == ["Please call after six."]


# --- a JSON body posted to a form page ------------------------------------------------------------


@pytest.mark.parametrize("csrf", [True, False], ids=["csrf-on", "csrf-off"])
@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/json", b"{"),
        ("application/json", b"[1, 2]"),
        ("application/json", json.dumps({"first_name": "Jane", "email": "j@x.example"})),
        ("text/plain", b"first_name=Jane"),
    ],
    ids=["truncated-json", "json-array", "json-object", "text"],
)
def test_a_post_that_is_not_a_form_gets_415_at_a_form_page(
    make_app: Callable[..., Flask], csrf: bool, content_type: str, data: bytes | str
) -> None:
    app = make_app()
    app.config["WTF_CSRF_ENABLED"] = csrf
    client = app.test_client()

    for path in ("/contact", "/screening/tms", "/screening/phq9"):
        response = client.post(path, data=data, headers={"Content-Type": content_type})
        assert response.status_code == 415, (path, response.data[:300])
    assert count(app.extensions["intake.db"], Submission) == 0


# --- one budget for both doors --------------------------------------------------------------------


@pytest.fixture
def limited_app(make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    # The limiter is one object for the process: put its on/off switch back for later tests.
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    app = make_app(RATELIMIT_ENABLED="true", RATELIMIT_SUBMISSIONS="30 per minute;300 per hour")
    app.config["WTF_CSRF_ENABLED"] = False
    yield app


def test_seventy_posts_across_both_doors_get_exactly_the_one_budget(limited_app: Flask) -> None:
    client = limited_app.test_client()
    statuses = []
    for number in range(70):
        if number % 2:
            statuses.append(client.post(API, json=api_body()).status_code)
        else:
            statuses.append(client.post("/screening/tms", data=tms_data()).status_code)

    assert statuses.count(429) == 40
    assert sorted(set(statuses)) == [201, 303, 429]
    assert count(limited_app.extensions["intake.db"], Submission) == 30


def test_the_budget_is_per_client_address(limited_app: Flask) -> None:
    client = limited_app.test_client()
    for _ in range(30):
        client.post(API, json=api_body(), environ_base={"REMOTE_ADDR": "198.51.100.1"})

    assert (
        client.post(API, json=api_body(), environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code
        == 429
    )
    other = client.post(
        "/contact", data=contact_data(), environ_base={"REMOTE_ADDR": "198.51.100.2"}
    )
    assert other.status_code == 303


# --- Retry-After only where it means something ----------------------------------------------------


def test_retry_after_is_sent_only_with_429(limited_app: Flask) -> None:
    client = limited_app.test_client()

    created = client.post(API, json=api_body())
    form = client.post("/contact", data=contact_data())
    refused = client.post(API, json={"form": "contact"})

    assert (created.status_code, form.status_code, refused.status_code) == (201, 303, 422)
    for response in (created, form, refused, client.get("/contact")):
        assert "Retry-After" not in response.headers
    for _ in range(30):
        last = client.post(API, json=api_body())
    assert last.status_code == 429
    assert 0 < int(last.headers["Retry-After"]) <= 60


# --- body size at the limit, with and without Content-Length --------------------------------------

LIMIT = 64 * 1024


def body_of_size(size: int) -> bytes:
    base = json.dumps(api_body(message="")).encode()
    data = json.dumps(api_body(message="m" * (size - len(base)))).encode()
    assert len(data) == size
    return data


def post_chunked(client: Any, data: bytes) -> Any:
    return client.post(
        API,
        input_stream=io.BytesIO(data),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize(("size", "status"), [(LIMIT, 422), (LIMIT + 1, 413)])
def test_a_body_at_the_limit_is_read_alike_with_content_length_and_chunked(
    doors_app: Flask, size: int, status: int
) -> None:
    # 64 KiB of message is over the message's own cap: read in full, then refused by field (422).
    data = body_of_size(size)
    client = doors_app.test_client()

    with_length = client.post(API, data=data, headers={"Content-Type": "application/json"})
    chunked = post_chunked(client, data)

    assert (with_length.status_code, chunked.status_code) == (status, status)
    if status == 422:
        assert list(chunked.get_json()["errors"]) == ["message"]


def test_a_chunked_body_of_exactly_the_limit_is_accepted(doors_app: Flask) -> None:
    body = api_body(source={f"utm_{i}": "s" * 90 for i in range(20)}, message="m" * 4000)
    data = json.dumps(body).encode()
    data += b" " * (LIMIT - len(data))  # JSON allows blanks: a valid body of exactly 64 KiB

    assert post_chunked(doors_app.test_client(), data).status_code == 201


# --- source, consent wording, treatment -----------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [{f"utm_{i}": "x" for i in range(21)}, {f"k{i}": "v" * 500 for i in range(5)}],
    ids=["21-keys", "over-2-KiB"],
)
def test_an_oversized_api_source_is_a_clear_422(
    doors_app: Flask, doors_db: Database, source: dict[str, str]
) -> None:
    response = doors_app.test_client().post(API, json=api_body(source=source))

    assert response.status_code == 422
    assert response.get_json()["errors"] == {"source": rules.SOURCE_TOO_LARGE}
    assert count(doors_db, Submission) == 0


def test_a_long_query_string_never_costs_a_form_its_lead(
    doors_app: Flask, doors_db: Database
) -> None:
    query = "&".join(f"utm_{part}={'z' * 900}" for part in ("source", "medium", "campaign"))
    response = doors_app.test_client().post(
        f"/contact?{query}",
        data=contact_data(),
        headers={"Referer": "https://x.example/" + "r" * 3000},
    )

    assert response.status_code == 303
    with doors_db.session() as session:
        source = session.scalars(sa.select(Lead.source)).one()
    assert rules.source_problem(source) is None
    assert source["page"].startswith("https://x.example/")


def test_an_unknown_consent_wording_is_refused_without_echo_on_both_doors(
    doors_app: Flask, doors_db: Database
) -> None:
    client = doors_app.test_client()
    form = client.post("/contact", data=contact_data(sms_wording_version=MARKER))
    api = client.post(API, json=api_body(consent={"sms": True, "wording_version": MARKER}))

    assert (form.status_code, api.status_code) == (422, 422)
    assert MARKER not in form.text and MARKER not in api.text
    assert "Unknown consent wording version" in Page(form.text).text()
    assert count(doors_db, Submission) == 0


def test_an_api_tms_screen_without_a_treatment_means_tms(
    doors_app: Flask, doors_db: Database
) -> None:
    answers = dict.fromkeys(
        [
            "struggles_with_depression_ocd_anxiety",
            "has_symptoms",
            "tried_antidepressants",
            "tried_talk_therapy",
            "doctor_suggested_tms",
        ],
        True,
    )
    client = doors_app.test_client()
    assert client.post(API, json=api_body(form="tms_screen", answers=answers)).status_code == 201
    assert client.post("/screening/tms", data=tms_data()).status_code == 303

    with doors_db.session() as session:
        # The same person by both doors: one (returning) lead with two submissions, for TMS.
        assert list(session.scalars(sa.select(Lead.treatment_interest))) == ["tms"]
        assert len(list(session.scalars(sa.select(Submission.id)))) == 2


# --- one crisis wording -------------------------------------------------------------------------


def test_pages_and_the_api_answer_use_the_one_crisis_wording(doors_app: Flask) -> None:
    client = doors_app.test_client()
    for path in ("/contact", "/screening/tms", "/screening/phq9", "/screening/gad7"):
        page = Page(client.get(path).text)
        assert rules.NOT_FOR_EMERGENCIES in page.text()
        assert rules.FOOTER in page.text()
        assert {"tel:988", "tel:911"} <= {a.attr("href") for a in page.find_all("a")}

    answer = client.post(API, json=api_body())
    assert answer.get_json()["message"] == rules.THANK_YOU
