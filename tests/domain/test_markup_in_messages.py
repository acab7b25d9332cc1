"""Markup typed into every field reaches the team and the patient as text, never as HTML."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from intake_service.models import Lead
from tests.domain.builders import load_templates, process_and_deliver
from tests.support.smtp_server import SmtpServer

SCRIPT = "<script>alert('x')</script>"
BOLD = "<b onmouseover=alert(1)>Doe</b>"


def test_markup_in_every_field_is_escaped_in_every_email_and_the_outbox_pages(
    make_app: Callable[..., Flask], smtp_server: SmtpServer
) -> None:
    app = make_app(SMTP_URL=smtp_server.url)
    load_templates(app.extensions["intake.db"])
    response = app.test_client().post(
        "/api/v1/submissions",
        json={
            "form": "contact",
            "contact": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
                        "phone": "(310) 555-0123"},
            "treatment_interest": "ketamine",
            "message": SCRIPT,
            "consent": {"sms": True},
            "source": {"page": SCRIPT, "utm_source": BOLD},
        },
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()
    db = app.extensions["intake.db"]
    with db.transaction() as session:
        lead = session.scalars(select(Lead)).one()
        # Both doors refuse such names now; rows from before that rule (or from an import)
        # may still hold them, and every message must still show them as text.
        lead.first_name, lead.last_name = SCRIPT, BOLD
    process_and_deliver(app, lead.id)

    mails = smtp_server.wait_for(2)
    for mail in mails:
        html_part = mail.message.get_body(("html",))
        assert html_part is not None
        html = str(html_part.get_content())
        assert "<script>" not in html and "<b onmouseover" not in html
        assert "&lt;script&gt;" in html  # the name is shown, as text
        assert SCRIPT in str(mail.message.get_body(("plain",)).get_content())

    # The text went to the dev mailbox (no Twilio configured): its pages escape it too.
    client = app.test_client()
    listing = client.get("/dev/mailbox").get_data(as_text=True)
    assert "<script>alert" not in listing
    entry_links = [part.split('"')[0] for part in listing.split('href="/dev/mailbox/')[1:]]
    assert entry_links
    for link in entry_links:
        page = client.get(f"/dev/mailbox/{link}").get_data(as_text=True)
        assert "<script>alert" not in page and "<b onmouseover" not in page
