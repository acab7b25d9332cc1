"""Liveness, readiness and metrics: truthful about dependencies, silent about people."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import select

from intake_service import create_app, migrate
from intake_service.config import ConfigError, Settings
from intake_service.domain import intake
from intake_service.models import Submission
from tests.domain.builders import load_templates, process_and_deliver, submit


def test_healthz_answers_without_touching_dependencies(
    make_settings: Callable[..., Settings],
) -> None:
    # A database nobody can reach: the process is still alive.
    app = create_app(make_settings(DATABASE_URL="postgresql://postgres@127.0.0.1:1/none"))
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_is_ready_when_database_and_broker_answer(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok"}


def test_readyz_names_the_revisions_when_the_database_is_behind(app: Flask) -> None:
    settings = app.extensions["intake.settings"]
    command.downgrade(migrate.alembic_config(settings.database_url), "-1")
    (head,) = migrate.code_heads()
    behind = ScriptDirectory.from_config(migrate.alembic_config("")).get_revision(head)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == (
        f"behind (database at {behind.down_revision}; code at {head})"
    )


def test_readyz_names_an_unreachable_broker(make_app: Callable[..., Flask]) -> None:
    app = make_app(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok"
    assert checks["broker"].startswith("unavailable")


def test_readyz_names_an_unreachable_database(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(DATABASE_URL="postgresql://postgres@127.0.0.1:1/none"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("unavailable")


def test_metrics_count_messages_by_status_and_never_name_anyone(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    load_templates(app.extensions["intake.db"])
    lead_id = submit(
        app,
        contact=intake.Contact("Zebedee", "Quill", "zq@example.com", "+13105550177", "any"),
    )
    process_and_deliver(app, lead_id)

    text = app.test_client().get("/metrics").get_data(as_text=True)

    assert 'intake_messages{channel="email",status="sent"} 2.0' in text
    assert 'intake_messages{channel="sms",status="sent"} 1.0' in text
    assert "intake_outbox_pending 0.0" in text
    for personal in ("Zebedee", "@example.com", "+1", str(lead_id)):
        assert personal not in text


def test_metrics_content_type_names_its_charset_once(app: Flask) -> None:
    response = app.test_client().get("/metrics")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert response.headers["Content-Type"].count("charset") == 1


@pytest.mark.parametrize(("proxies", "recorded"), [("0", "127.0.0.1"), ("1", "198.51.100.7")])
def test_client_address_is_taken_from_a_trusted_proxy_only(
    make_app: Callable[..., Flask], proxies: str, recorded: str
) -> None:
    # The address is consent evidence and the rate limit's key: a forged header must not set it.
    app = make_app(TRUSTED_PROXIES=proxies)
    response = app.test_client().post(
        "/api/v1/submissions",
        json={"form": "contact", "contact": {"first_name": "Ana", "email": "ana@example.com"}},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert response.status_code == 201
    with app.extensions["intake.db"].session() as session:
        assert session.scalars(select(Submission.ip)).one() == recorded


@pytest.mark.parametrize(
    ("name", "value"), [("TRUSTED_PROXIES", "one"), ("RATELIMIT_ENABLED", "maybe")]
)
def test_malformed_proxy_and_limiter_settings_are_refused(
    make_settings: Callable[..., Settings], name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        make_settings(**{name: value})
