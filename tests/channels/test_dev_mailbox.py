"""DevMailboxChannel, and get_channel choosing an implementation from settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.channels import (
    CHANNEL_KINDS,
    OutgoingMessage,
    PermanentError,
    get_channel,
    kind,
)
from intake_service.channels.dev_mailbox import DevMailboxChannel
from intake_service.channels.email import SmtpChannel, message_id_header
from intake_service.channels.sms import TwilioChannel
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.models.dev_mailbox import DevMailboxEntry
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

EMAIL = OutgoingMessage(
    message_id=7,
    channel="email",
    recipient="jane.doe@patients.example",
    subject="Thanks for contacting Sunrise Clinic",
    body_text="We will call you back today.",
    body_html="<p>We will call you back today.</p>",
    headers={"List-Unsubscribe": "<https://sunrise.example/u/abc>"},
)
SMS = OutgoingMessage(
    message_id=8,
    channel="sms",
    recipient="+13105550123",
    body_text="Thanks for contacting Sunrise Clinic. Reply STOP to opt out.",
)


@pytest.fixture
def settings(app: Flask) -> Settings:
    configured: Settings = app.extensions["intake.settings"]
    return configured


def stored(db: Database, provider_id: str) -> DevMailboxEntry:
    with db.session() as session:
        return session.execute(
            sa.select(DevMailboxEntry).where(DevMailboxEntry.provider_id == provider_id)
        ).scalar_one()


def test_email_is_stored_readable_with_the_smtp_message_id(
    settings: Settings, db: Database
) -> None:
    provider_id = DevMailboxChannel("email", settings, db).send(EMAIL)

    assert provider_id.startswith("dev-")
    entry = stored(db, provider_id)
    assert (entry.channel, entry.sender, entry.recipient) == (
        "email",
        "Sunrise Clinic <intake@sunrise.example>",
        EMAIL.recipient,
    )
    assert (entry.subject, entry.body_text, entry.body_html) == (
        EMAIL.subject,
        EMAIL.body_text,
        EMAIL.body_html,
    )
    assert entry.headers == {
        "List-Unsubscribe": "<https://sunrise.example/u/abc>",
        "Message-ID": "<intake-message-7@sunrise.example>",
    }


def test_bodies_are_encrypted_at_rest(settings: Settings, db: Database) -> None:
    DevMailboxChannel("email", settings, db).send(EMAIL)

    with db.session() as session:
        raw = session.execute(
            sa.text("SELECT subject, body_text, body_html FROM dev_mailbox")
        ).one()
    assert EMAIL.body_text not in raw.body_text
    assert "Sunrise" not in raw.subject
    assert "<p>" not in raw.body_html


def test_sms_is_stored_with_the_clinic_phone_as_sender(settings: Settings, db: Database) -> None:
    provider_id = DevMailboxChannel("sms", settings, db).send(SMS)

    entry = stored(db, provider_id)
    assert (entry.channel, entry.sender, entry.recipient, entry.body_text) == (
        "sms",
        "(310) 555-0100",
        SMS.recipient,
        SMS.body_text,
    )
    assert entry.subject is None
    assert entry.headers == {}


def test_each_send_is_a_new_entry_with_the_same_message_id(
    settings: Settings, db: Database
) -> None:
    channel = DevMailboxChannel("email", settings, db)

    first, second = channel.send(EMAIL), channel.send(EMAIL)

    assert first != second
    assert stored(db, first).headers["Message-ID"] == stored(db, second).headers["Message-ID"]


def test_dev_mailbox_and_smtp_give_a_message_the_same_message_id(
    settings: Settings,
    db: Database,
    make_settings: Callable[..., Settings],
    smtp_server: SmtpServer,
) -> None:
    smtp_settings = make_settings(SMTP_URL=smtp_server.url)
    assert smtp_settings.smtp is not None

    via_smtp = SmtpChannel(smtp_settings.smtp, smtp_settings).send(EMAIL)
    via_outbox = DevMailboxChannel("email", settings, db).send(EMAIL)

    assert stored(db, via_outbox).headers["Message-ID"] == via_smtp
    assert via_smtp == message_id_header(EMAIL.message_id, settings.mail_from)


@pytest.mark.parametrize("kind", ["email", "sms"])
def test_get_channel_defaults_to_the_dev_mailbox(
    settings: Settings, db: Database, kind: str
) -> None:
    channel = get_channel(kind, settings, db)

    assert isinstance(channel, DevMailboxChannel)
    assert channel.kind == kind


def test_get_channel_picks_smtp_when_smtp_url_is_set(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    settings = make_settings(SMTP_URL="smtp://127.0.0.1:2525")

    assert isinstance(get_channel("email", settings, db), SmtpChannel)
    assert isinstance(get_channel("sms", settings, db), DevMailboxChannel)


def test_get_channel_picks_twilio_when_configured(
    make_settings: Callable[..., Settings], db: Database, twilio_standin: TwilioStandin
) -> None:
    settings = make_settings(**twilio_standin.env())

    channel: Any = get_channel("sms", settings, db)

    assert isinstance(channel, TwilioChannel)
    assert channel.kind == "sms"
    assert isinstance(get_channel("email", settings, db), DevMailboxChannel)
    assert channel.send(SMS).startswith("SM")  # and it really reaches the configured API


def test_unknown_kinds_are_refused(settings: Settings, db: Database) -> None:
    with pytest.raises(ValueError, match="fax"):
        get_channel("fax", settings, db)
    with pytest.raises(ValueError, match="fax"):
        DevMailboxChannel("fax", settings, db)


@pytest.mark.parametrize("configured", ["dev-mailbox", "twilio"])
def test_switched_off_texting_refuses_every_text_and_stores_none(
    make_settings: Callable[..., Settings],
    db: Database,
    twilio_standin: TwilioStandin,
    configured: str,
) -> None:
    # SMS_ENABLED=false: a text planned before the switch must not land in the dev mailbox
    # marked sent, nor reach Twilio; it fails, saying why, and the address stays usable.
    twilio = twilio_standin.env() if configured == "twilio" else {}
    settings = make_settings(SMS_ENABLED="false", **twilio)
    channel = get_channel("sms", settings, db)

    with pytest.raises(PermanentError) as caught:
        channel.send(SMS)

    assert (caught.value.reason, caught.value.unusable) == ("channel_off", None)
    assert channel.find_existing(SMS, since=dt.datetime.now(dt.UTC)) is None
    assert isinstance(get_channel("email", settings, db), DevMailboxChannel)
    assert twilio_standin.requests == []
    with db.session() as session:
        assert session.scalars(sa.select(DevMailboxEntry)).all() == []


def test_kinds_name_their_label_contact_point_and_fallback() -> None:
    assert CHANNEL_KINDS == ("email", "sms")
    assert (kind("sms").label, kind("sms").contact_point, kind("sms").fallback) == (
        "text",
        "phone number",
        "email",
    )
    assert kind("email").fallback == "sms"
    with pytest.raises(ValueError, match="fax"):
        kind("fax")
