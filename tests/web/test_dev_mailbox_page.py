"""The dev mailbox pages: listed newest first, bodies shown safely, absent where not used."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain import dev_mailbox
from intake_service.models import DevMailboxEntry

T0 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
TWILIO_ENV = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "test-token",
    "TWILIO_FROM_NUMBER": "+13105550100",
}
SMTP_ENV = {"SMTP_URL": "smtp://127.0.0.1:2525"}
# The least production starts with on the embedded parts: a relay, texting off, no limiter.
PRODUCTION_ENV = {
    "APP_ENV": "production",
    "METRICS_TOKEN": "metrics-token-0123456789abcdef",
    "SMS_ENABLED": "false",
    "RATELIMIT_ENABLED": "false",
    **SMTP_ENV,
}


def add_entry(db: Database, **fields: Any) -> int:
    values: dict[str, Any] = {
        "created_at": T0,
        "channel": "email",
        "provider_id": uuid.uuid4().hex,
        "sender": "Sunrise Clinic <intake@sunrise.example>",
        "recipient": "jane@example.com",
        "subject": "Thanks for contacting Sunrise Clinic",
        "body_text": "We will call you soon.",
        "body_html": None,
        "headers": {},
    }
    values.update(fields)
    with db.transaction() as session:
        entry = DevMailboxEntry(**values)
        session.add(entry)
        session.flush()
        return entry.id


def test_outbox_lists_entries_newest_first_with_links(client: Any, db: Database) -> None:
    older = add_entry(db, subject="Older email", created_at=T0)
    newer = add_entry(
        db,
        channel="sms",
        recipient="+13105550123",
        subject=None,
        body_text="Thanks for contacting Sunrise Clinic. Reply STOP to opt out.",
        created_at=T0 + dt.timedelta(minutes=5),
    )

    response = client.get("/dev/mailbox")

    assert response.status_code == 200
    text = response.text
    assert text.index(f"/dev/mailbox/{newer}") < text.index(f"/dev/mailbox/{older}")
    assert "+13105550123" in text
    assert "Thanks for contacting Sunrise Clinic. Reply STOP" in text  # a text shows its start
    assert "Older email" in text
    assert "2026-11-25 08:05:00" in text


def test_empty_outbox_says_so(client: Any) -> None:
    response = client.get("/dev/mailbox")

    assert response.status_code == 200
    assert "Nothing has been sent yet." in response.text


def test_entry_shows_text_in_pre_and_html_in_a_sandboxed_iframe(client: Any, db: Database) -> None:
    html_body = '<p class="x">Hello &amp; welcome</p><script>alert("owned")</script>'
    entry_id = add_entry(
        db,
        body_text="Hello <b>Jane</b> & welcome",
        body_html=html_body,
        headers={"List-Unsubscribe": "<https://clinic.example/u/abc>"},
    )

    response = client.get(f"/dev/mailbox/{entry_id}")

    assert response.status_code == 200
    body = response.text
    assert "<pre>Hello &lt;b&gt;Jane&lt;/b&gt; &amp; welcome</pre>" in body
    # The HTML body is one attribute value: every quote and bracket escaped, nothing live.
    assert (
        'srcdoc="&lt;p class=&#34;x&#34;&gt;Hello &amp;amp; welcome&lt;/p&gt;'
        "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;"
    ) in body
    assert "<script>" not in body
    iframe = body[body.index("<iframe") : body.index("</iframe>")]
    assert " sandbox " in iframe  # an empty sandbox: no scripts, no same origin
    assert "allow-" not in iframe
    assert "&lt;https://clinic.example/u/abc&gt;" in body
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_text_only_entry_has_no_iframe(client: Any, db: Database) -> None:
    entry_id = add_entry(db, channel="sms", subject=None, body_text="Hi Jane")

    body = client.get(f"/dev/mailbox/{entry_id}").text

    assert "<pre>Hi Jane</pre>" in body
    assert "<iframe" not in body


def test_missing_entry_is_not_found(client: Any) -> None:
    assert client.get("/dev/mailbox/999999").status_code == 404


@pytest.mark.parametrize("entry_id", ["99999999999999999999999", str(2**63), str(2**31), "0"])
def test_an_id_past_what_the_table_holds_is_not_found(
    make_app: Callable[..., Flask], backend_url: str, entry_id: str
) -> None:
    # Unchecked, SQLite overflows past 2**63 and PostgreSQL's integer past 2**31: a 500.
    client = make_app(DATABASE_URL=backend_url).test_client()

    response = client.get(f"/dev/mailbox/{entry_id}")

    assert response.status_code == 404


def test_outbox_is_not_found_in_production(make_app: Callable[..., Flask]) -> None:
    app = make_app(**PRODUCTION_ENV)
    client = app.test_client()

    assert client.get("/dev/mailbox").status_code == 404
    assert client.get("/dev/mailbox/1").status_code == 404


def test_outbox_is_not_found_when_every_part_is_real(
    make_app: Callable[..., Flask], pg_url: str
) -> None:
    app = make_app(
        APP_ENV="development",
        DATABASE_URL=pg_url,
        CELERY_BROKER_URL="redis://127.0.0.1:6379/15",
        **SMTP_ENV,
        **TWILIO_ENV,
    )

    assert app.test_client().get("/dev/mailbox").status_code == 404


def test_outbox_is_shown_when_texts_still_go_to_it(
    make_app: Callable[..., Flask], pg_url: str
) -> None:
    app = make_app(
        APP_ENV="development",
        DATABASE_URL=pg_url,
        CELERY_BROKER_URL="redis://127.0.0.1:6379/15",
        **SMTP_ENV,
    )

    assert app.test_client().get("/dev/mailbox").status_code == 200


@pytest.mark.parametrize(
    ("env", "shown"),
    [
        ({}, True),  # the embedded default
        (PRODUCTION_ENV, False),
        ({**SMTP_ENV, **TWILIO_ENV}, True),  # SQLite: still the embedded default
        (
            {
                "DATABASE_URL": "postgresql://db/intake",
                "CELERY_BROKER_URL": "redis://r/0",
                **SMTP_ENV,
            },
            True,
        ),
        (
            {
                "DATABASE_URL": "postgresql://db/intake",
                "CELERY_BROKER_URL": "redis://r/0",
                **TWILIO_ENV,
            },
            True,
        ),
        (
            {
                "DATABASE_URL": "postgresql://db/intake",
                "CELERY_BROKER_URL": "redis://r/0",
                **SMTP_ENV,
                **TWILIO_ENV,
            },
            False,
        ),
    ],
)
def test_outbox_is_available_only_where_something_lands_in_it(
    make_settings: Callable[..., Settings], env: dict[str, str], shown: bool
) -> None:
    assert dev_mailbox.available(make_settings(**env)) is shown
