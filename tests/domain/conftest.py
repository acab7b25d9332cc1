"""Apps for domain tests: templates and sequences loaded, and real SMTP and Twilio stand-ins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.domain.builders import database, load_templates
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin


@pytest.fixture
def app_database_url() -> str | None:
    """The database ready_app builds on; None is the embedded default, SQLite in tmp_path.

    A suite whose behaviour hangs on the backend (row locks, SKIP LOCKED, compare-and-set
    claims) overrides this fixture with `backend_url` and runs once on SQLite, once on
    PostgreSQL.
    """
    return None


@pytest.fixture
def ready_app(make_app: Callable[..., Flask], app_database_url: str | None) -> Callable[..., Flask]:
    """An app with the default templates loaded, as after `intake-service templates load`."""

    def make(**overrides: Any) -> Flask:
        if app_database_url is not None:
            overrides.setdefault("DATABASE_URL", app_database_url)
        app = make_app(**overrides)
        load_templates(database(app))
        return app

    return make


@pytest.fixture
def wired_app(
    ready_app: Callable[..., Flask], smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> Callable[..., Flask]:
    """A ready app sending mail to the SMTP server and texts to the Twilio stand-in."""

    def make(**overrides: Any) -> Flask:
        env = {"SMTP_URL": smtp_server.url, "SMTP_TIMEOUT": "2", **twilio_standin.env()}
        env.update(overrides)
        return ready_app(**env)

    return make
