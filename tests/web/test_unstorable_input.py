"""In the staff and admin apps a NUL in a query or form field is a 400 with a sentence, never a
500 on PostgreSQL (the patients' doors: tests/web/test_control_characters.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.web.unstorable_input import SENTENCE


@pytest.fixture
def either_app(make_app: Callable[..., Flask], backend_url: str) -> Flask:
    app = make_app(DATABASE_URL=backend_url)
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def leads(app: Flask) -> int:
    with app.extensions["intake.db"].session() as session:
        return int(session.execute(sa.text("SELECT count(*) FROM leads")).scalar_one())


def test_a_sign_in_with_a_nul_in_the_email_is_refused_in_words(either_app: Flask) -> None:
    answer = either_app.test_client().post(
        "/login", data={"email": "coordinator\x00@clinic.example", "password": "secret"}
    )

    assert answer.status_code == 400
    assert "cannot be stored (NUL" in answer.get_data(as_text=True)


def test_a_nul_in_a_query_or_a_field_name_is_refused(either_app: Flask) -> None:
    client = either_app.test_client()

    assert client.get("/login?next=a%00b").status_code == 400
    assert client.post("/login", data={"e\x00mail": "x"}).status_code == 400
    assert client.get("/admin/users?x=%00").status_code == 400


def test_the_patients_form_keeps_its_own_answer_beside_the_field(either_app: Flask) -> None:
    answer = either_app.test_client().post(
        "/contact",
        data={"first_name": "Ana\x00", "email": "ana@patients.example", "callback_window": "any"},
    )

    assert answer.status_code == 422
    assert SENTENCE not in answer.get_data(as_text=True)
    assert leads(either_app) == 0


def test_twilio_webhooks_check_their_signature_first(either_app: Flask) -> None:
    answer = either_app.test_client().post("/webhooks/twilio/sms", data={"Body": "a\x00"})

    assert answer.status_code == 403
