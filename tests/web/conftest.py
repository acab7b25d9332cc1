"""Apps for web tests that talk to Twilio and SMTP: real stand-ins and a public base URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.domain.builders import database, load_templates
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin
from tests.support.twilio_webhooks import PUBLIC


@pytest.fixture
def sms_app(
    make_app: Callable[..., Flask], smtp_server: SmtpServer, twilio_standin: TwilioStandin
) -> Callable[..., Flask]:
    """A ready app sending to the stand-ins, reachable (for Twilio) at PUBLIC."""

    def make(**overrides: Any) -> Flask:
        env = {
            # Texts to one number from several leads are the subject here: no merging.
            "DUPLICATE_WINDOW_DAYS": "0",
            "SMTP_URL": smtp_server.url,
            "SMTP_TIMEOUT": "2",
            "PUBLIC_BASE_URL": PUBLIC,
            **twilio_standin.env(),
        }
        env.update(overrides)
        app = make_app(**env)
        app.config["WTF_CSRF_ENABLED"] = False
        load_templates(database(app))
        return app

    return make
