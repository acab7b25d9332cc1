"""The PHQ-9 page in Chromium at phone size: standard items, tappable answers, item 9 urgent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from intake_service.db import Database
from intake_service.domain.triage import scales
from intake_service.models import Lead
from tests.browser.test_forms_browser import ARTIFACTS, PHONE, browser  # noqa: F401
from tests.support.services import free_port

pytestmark = pytest.mark.browser


@pytest.fixture
def live_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()  # CSRF on, as in production


@pytest.fixture
def base_url(live_app: Flask) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, base_url=base_url
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


def test_phq9_on_a_phone_item9_above_zero_gives_the_988_page_and_an_urgent_lead(
    page: Page, live_app: Flask
) -> None:
    page.goto("/screening/phq9")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phq9-phone.png"), full_page=True)

    expect(page.get_by_role("heading", level=1)).to_have_text("Depression questionnaire (PHQ-9)")
    for text in scales.PHQ9_ITEMS:
        expect(page.get_by_role("group", name=text)).to_be_visible()
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Each answer's whole tile is a tap target of at least 44 px.
    first = page.get_by_role("group", name=scales.PHQ9_ITEMS[0]).get_by_text("Several days")
    box = first.bounding_box()
    assert box is not None and box["height"] >= 44

    for number, text in enumerate(scales.PHQ9_ITEMS, start=1):
        answer = "More than half the days" if number == 9 else "Not at all"
        page.get_by_role("group", name=text).get_by_label(answer).check()
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Phone").fill("(213) 373-4253")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "You do not have to wait for our call"
    )
    expect(page.get_by_role("link", name="Call 911")).to_have_attribute("href", "tel:911")
    expect(page.get_by_role("link", name="Text 988")).to_have_attribute("href", "sms:988")
    page.screenshot(path=str(ARTIFACTS / "phq9-urgent-thank-you.png"), full_page=True)
    db: Database = live_app.extensions["intake.db"]
    with db.session() as session:
        (lead,) = session.scalars(select(Lead)).all()
        assert lead.urgent is True


def test_phq9_sent_incomplete_says_which_question_needs_an_answer(page: Page) -> None:
    page.goto("/screening/phq9")
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Email").fill("jane@patients.example")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("alert")).to_contain_text("Choose how often.")
    assert page.title().startswith("Error: ")
