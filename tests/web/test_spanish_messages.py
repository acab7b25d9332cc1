"""Spanish patient messages (issue 14): a lead who used the Spanish pages gets its email and text
in Spanish, from the `es` versions; a template with no Spanish version falls back to English,
with a warning that names the template and never the person."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.models import DevMailboxEntry, Lead, Message, Template, TemplateVersion
from tests.domain.builders import load_templates, process_and_deliver
from tests.web.test_forms import post, tms_data

SPANISH = {"Accept-Language": "es-MX,es;q=0.9"}
LUCIA = {"first_name": "Lucía", "email": "lucia@patients.example", "phone": "(213) 373-4253"}


def submit_tms(client: Any, db: Database, headers: dict[str, str], **fields: Any) -> uuid.UUID:
    """Submit the TMS self-screen as a person would, and return the new lead's id."""
    response = post(client, "/screening/tms", tms_data(**fields), headers=headers)
    assert response.status_code == 303, response.text[:500]
    with db.session() as session:
        return session.scalars(
            sa.select(Lead.id).where(Lead.first_name == fields["first_name"])
        ).one()


def first_messages(db: Database, lead_id: uuid.UUID) -> dict[str, tuple[Message, str]]:
    """The lead's first-contact patient messages by channel, each with its template's locale."""
    with db.session() as session:
        rows = session.execute(
            sa.select(Message, Template.locale)
            .join(TemplateVersion, TemplateVersion.id == Message.template_version_id)
            .join(Template, Template.id == TemplateVersion.template_id)
            .where(
                Message.lead_id == lead_id,
                Message.audience == "patient",
                Message.step_key == "first",
            )
        ).all()
    return {message.channel: (message, locale) for message, locale in rows}


def delivered(db: Database, recipient: str) -> DevMailboxEntry:
    with db.session() as session:
        (entry,) = session.scalars(
            sa.select(DevMailboxEntry).where(DevMailboxEntry.recipient == recipient)
        ).all()
    return entry


def drop_spanish(db: Database, key: str, channel: str) -> None:
    """Delete the Spanish version of one template, as if it had never been translated."""
    with db.transaction() as session:
        session.execute(
            sa.delete(Template).where(
                Template.key == key, Template.channel == channel, Template.locale == "es"
            )
        )


@pytest.fixture
def loaded(app: Flask, db: Database) -> Flask:
    load_templates(db)
    return app


def test_a_spanish_lead_gets_its_first_email_and_text_in_spanish(
    loaded: Flask, db: Database
) -> None:
    lead_id = submit_tms(loaded.test_client(), db, SPANISH, **LUCIA)

    process_and_deliver(loaded, lead_id)

    sent = first_messages(db, lead_id)
    assert {channel: locale for channel, (_, locale) in sent.items()} == {
        "email": "es",
        "sms": "es",
    }
    email = delivered(db, "lucia@patients.example")
    assert email.subject == "Gracias por comunicarse con Sunrise Clinic"
    assert email.body_text.startswith("Hola, Lucía:\n")
    assert "le llamará por la noche para hablar de sus preguntas" in email.body_text
    assert "llame al 988 y oprima 2" in email.body_text
    assert email.body_html is not None and '<html lang="es">' in email.body_html
    text = delivered(db, "+12133734253")
    assert text.body_text == (
        "Hola, Lucía. Somos Sunrise Clinic. Le llamaremos por la noche. O llame al "
        "(310) 555-0100. Crisis: 988 (oprima 2) o 911. STOP para cancelar."
    )
    # What the Message row keeps is what went out.
    assert sent["sms"][0].body_text == text.body_text


def test_an_english_lead_gets_english(loaded: Flask, db: Database) -> None:
    lead_id = submit_tms(
        loaded.test_client(),
        db,
        {"Accept-Language": "en-US,en"},
        first_name="Jane",
        email="jane@patients.example",
        phone="(213) 373-4253",
    )

    process_and_deliver(loaded, lead_id)

    sent = first_messages(db, lead_id)
    assert {channel: locale for channel, (_, locale) in sent.items()} == {
        "email": "en",
        "sms": "en",
    }
    assert delivered(db, "jane@patients.example").body_text.startswith("Hi Jane,")
    assert delivered(db, "+12133734253").body_text.startswith(
        "Hi Jane, Sunrise Clinic here. We'll call you in the evening."
    )


def test_a_missing_spanish_template_falls_back_to_english_with_a_warning(
    loaded: Flask, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    drop_spanish(db, "patient_first_reply", "sms")
    lead_id = submit_tms(loaded.test_client(), db, SPANISH, **LUCIA)

    with caplog.at_level(logging.WARNING, logger="intake_service.domain.templates.versions"):
        process_and_deliver(loaded, lead_id)

    sent = first_messages(db, lead_id)
    assert (sent["email"][1], sent["sms"][1]) == ("es", "en")
    assert delivered(db, "+12133734253").body_text.startswith(
        "Hi Lucía, Sunrise Clinic here. We'll call you in the evening."
    )
    assert delivered(db, "lucia@patients.example").body_text.startswith("Hola, Lucía:")
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.endswith("templates.versions")
    ]
    assert warnings == ["template patient_first_reply (sms) has no es version; sending the en one"]
    for personal in ("Lucía", "lucia@", "555", "4253", str(lead_id)):
        assert not [w for w in warnings if personal in w]
