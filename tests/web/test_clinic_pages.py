"""Whose pages these are: the clinic's name, phone, address, hours and privacy notice, and a
thank-you page that says what happens next."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from intake_service import create_app
from intake_service.config import Settings
from intake_service.domain import clinic_settings
from intake_service.domain.compliance.audit import Actor
from tests.web.test_forms import Page, contact_data, post

PUBLIC_PAGES = ("/contact", "/screening/tms", "/screening/phq9", "/screening/gad7", "/privacy")
CLINIC = {
    "CLINIC_NAME": "Sunrise Clinic",
    "CLINIC_PHONE": "(310) 555-0100",
    "CLINIC_ADDRESS": "100 Main St, Los Angeles, CA 90001",
    "CLINIC_HOURS": "Monday to Friday, 8 am to 6 pm",
    "CLINIC_FIRST_CONTACT": "We'll call you within two business hours.",
}


@pytest.fixture
def clinic_client(make_app: Callable[..., Flask]) -> Any:
    application = make_app(**CLINIC)
    application.config["WTF_CSRF_ENABLED"] = False
    return application.test_client()


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_public_page_says_whose_it_is_and_links_the_privacy_notice(
    clinic_client: Any, path: str
) -> None:
    response = clinic_client.get(path)

    assert response.status_code == 200
    page = Page(response.text)
    text = page.text()
    for value in ("Sunrise Clinic", "100 Main St, Los Angeles, CA 90001", "8 am to 6 pm"):
        assert value in text
    hrefs = [a.attr("href") for a in page.find_all("a")]
    assert "tel:+13105550100" in hrefs
    assert "/privacy" in hrefs
    assert {"tel:988", "tel:911"} <= set(hrefs)


def test_privacy_notice_says_what_why_how_long_and_how_to_ask(clinic_client: Any) -> None:
    page = Page(clinic_client.get("/privacy").text)

    headings = [" ".join(h.text.split()) for h in page.find_all("h2")]
    assert headings[:4] == [
        "What we collect",
        "Why we collect it",
        "How we protect it",
        "How long we keep it",
    ]
    assert "delete" in headings[4]


def test_thank_you_says_what_happens_next_once_with_phone_and_crisis_links(
    clinic_client: Any,
) -> None:
    response = post(clinic_client, "/contact", contact_data())
    page = Page(clinic_client.get(response.headers["Location"]).text)

    text = page.text()
    assert "We'll call you within two business hours." in text
    assert text.count("Thank you") == 1
    assert "soon" not in text
    main = page.by_id("main")
    main_links = [a.attr("href") for a in page.find_all("a") if main in a.ancestors]
    assert {"tel:988", "tel:911", "tel:+13105550100"} <= set(main_links)


def test_an_unparseable_clinic_phone_still_makes_a_link_of_its_digits(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(CLINIC_PHONE="555-CLINIC 0100").test_client()
    hrefs = [a.attr("href") for a in Page(client.get("/privacy").text).find_all("a")]
    assert "tel:5550100" in hrefs


def test_the_pages_show_the_clinic_an_admin_set(clinic_client: Any) -> None:
    app = clinic_client.application
    db = app.extensions["intake.db"]
    changes = {"name": "Sunrise Mind", "phone": "(213) 555-0199", "address": "1 Sun Way"}
    with db.transaction() as session:
        clinic_settings.update(
            session, app.extensions["intake.settings"], changes, Actor(None, "a")
        )
    page = Page(clinic_client.get("/contact").text)
    text = page.text()
    assert "Sunrise Mind" in text and "1 Sun Way" in text and "(213) 555-0199" in text
    assert "tel:+12135550199" in [a.attr("href") for a in page.find_all("a")]


def test_without_a_database_the_pages_show_the_environments_clinic(
    make_settings: Callable[..., Settings],
) -> None:
    # Nothing listens on port 1: the clinic settings cannot be read, the form still shows, and
    # the 503 page of a post names the clinic without asking the database again.
    settings = make_settings(DATABASE_URL="postgresql://postgres@127.0.0.1:1/none", **CLINIC)
    app = create_app(settings)
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        client = app.test_client()
        form = client.get("/contact")
        assert form.status_code == 200 and "Sunrise Clinic" in form.text
        failed = post(client, "/contact", contact_data())
        assert failed.status_code == 503 and "Sunrise Clinic" in failed.text
    finally:
        app.extensions["intake.db"].dispose()
