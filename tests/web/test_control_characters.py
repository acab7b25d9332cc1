"""Control characters (a NUL breaks PostgreSQL text) are refused beside the field, never a 5xx."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import func, select

from intake_service.models import Lead, Submission


def contact_form(**changes: str) -> dict[str, str]:
    form = {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.com",
        "phone": "(310) 555-0123",
        "treatment_interest": "tms",
        "callback_window": "any",
        "message": "Line one\nline two\ttabbed",
        "submission_token": "tok-control-chars",
    }
    form.update(changes)
    return form


def test_nul_in_a_name_is_refused_with_a_field_error_on_both_backends(
    make_app: Callable[..., Flask], backend_url: str
) -> None:
    app = make_app(DATABASE_URL=backend_url)
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/contact", data=contact_form(first_name="Ja\x00ne"))
    assert response.status_code == 422
    assert "Remove the invisible characters from this name." in response.get_data(as_text=True)
    with app.extensions["intake.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0


def test_nul_in_the_api_message_is_422_not_503(
    make_app: Callable[..., Flask], backend_url: str
) -> None:
    app = make_app(DATABASE_URL=backend_url)
    response = app.test_client().post(
        "/api/v1/submissions",
        json={"form": "contact", "contact": {"first_name": "Jane", "email": "j@example.com"},
              "message": "hello\x00world"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "message" in response.get_json()["errors"]


def test_line_breaks_and_tabs_in_a_message_are_kept(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/contact", data=contact_form())
    assert response.status_code in (302, 303)
    with app.extensions["intake.db"].session() as session:
        submission = session.scalars(select(Submission)).one()
    assert submission.message == "Line one\nline two\ttabbed"


def test_control_characters_in_the_query_string_are_dropped_not_refused(
    make_app: Callable[..., Flask], backend_url: str
) -> None:
    app = make_app(DATABASE_URL=backend_url)
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post(
        "/contact?utm_source=ad%00words", data=contact_form(), headers={"User-Agent": "UA"}
    )
    assert response.status_code in (302, 303)
    with app.extensions["intake.db"].session() as session:
        lead = session.scalars(select(Lead)).one()
    assert "\x00" not in str(lead.source)
