"""The public forms in a real browser (Debian's Chromium via Playwright), CSRF on, phone-sized."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.serving import make_server

from intake_service.db import Database
from intake_service.domain.intake.answers import TMS_ITEMS
from intake_service.models import Submission
from tests.support.services import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing, and CI requires the browser tests")
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_app(make_app: Callable[..., Flask]) -> Flask:
    application = make_app()  # CSRF on, as in production
    assert application.config.get("WTF_CSRF_ENABLED", True)
    return application


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
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, base_url=base_url
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


def submissions(app: Flask) -> list[Submission]:
    db: Database = app.extensions["intake.db"]
    with db.session() as session:
        return list(session.scalars(select(Submission).options(selectinload(Submission.lead))))


def fill_contact(page: Page, phone: str = "(310) 555-0123") -> None:
    page.fill("#first_name", "Jane")
    page.fill("#last_name", "Doe")
    page.fill("#email", "jane@example.com")
    page.fill("#phone", phone)


def test_contact_form_on_a_phone_is_filled_partly_by_keyboard_and_sent(
    page: Page, live_app: Flask
) -> None:
    page.goto("/contact")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "contact-phone.png"), full_page=True)

    # Fits the phone: no sideways scrolling, tap targets at least 44 CSS pixels tall.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    for selector in ("#first_name", "#phone", "#treatment_interest", "button[type=submit]"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["height"] >= 44, selector
    choice = page.locator("label[for=callback_window-0]").bounding_box()
    assert choice is not None and choice["height"] >= 44

    # Keyboard only: type the first name, Tab to the last name, type it; focus is visible.
    page.focus("#first_name")
    page.keyboard.type("Jane")
    page.keyboard.press("Tab")
    expect(page.locator("#last_name")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.type("Doe")
    page.keyboard.press("Tab")
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type("jane@example.com")

    page.fill("#phone", "(310) 555-0123")
    page.select_option("#treatment_interest", "spravato")
    page.click("label[for=callback_window-1]")
    page.fill("#message", "Evenings are hard; mornings are better to talk.")
    page.click("button[type=submit]")

    expect(page).to_have_url(re.compile(r"/thank-you/[0-9a-f-]{36}$"))
    expect(page.locator("h1")).to_have_text("Thank you, we have your request")
    expect(page.locator("footer")).to_contain_text("Call or text 988")
    expect(page.locator("body")).not_to_contain_text("mornings are better")
    [stored] = submissions(live_app)
    assert stored.lead.callback_window == "afternoon"
    assert stored.lead.treatment_interest == "spravato"


def test_invalid_phone_shows_the_error_beside_the_field_and_keeps_input(
    page: Page, live_app: Flask
) -> None:
    page.goto("/contact")
    fill_contact(page, phone="555-01")
    page.fill("#message", "Please keep what I typed.")
    page.check("#sms_consent")
    page.click("button[type=submit]")

    error = page.locator("#phone-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("phone number")
    phone = page.locator("#phone")
    expect(phone).to_have_value("555-01")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_attribute("aria-describedby", "phone-hint phone-error")
    # The error sits right by the field: between its label and the input, on screen.
    label_box = page.locator("label[for=phone]").bounding_box()
    error_box = error.bounding_box()
    input_box = phone.bounding_box()
    assert label_box["y"] < error_box["y"] < input_box["y"]
    expect(page.locator("#first_name")).to_have_value("Jane")
    expect(page.locator("#message")).to_have_value("Please keep what I typed.")
    expect(page.locator("#sms_consent")).to_be_checked()
    expect(page.locator(".error-summary a[href='#phone']")).to_be_visible()
    assert submissions(live_app) == []

    # Fixing the number and sending again works (the fresh CSRF token came with the page).
    page.fill("#phone", "(310) 555-0123")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Thank you, we have your request")
    assert len(submissions(live_app)) == 1


def test_sms_consent_box_is_unticked_by_default_and_shows_its_wording(page: Page) -> None:
    for path in ("/contact", "/screening/tms"):
        page.goto(path)
        box = page.locator("#sms_consent")
        expect(box).not_to_be_checked()
        expect(page.locator("label[for=sms_consent]")).to_contain_text("Reply STOP to opt out")
        page.click("label[for=sms_consent]")
        expect(box).to_be_checked()


def test_double_clicked_send_makes_one_submission(page: Page, live_app: Flask) -> None:
    page.goto("/contact")
    fill_contact(page)
    page.dblclick("button[type=submit]")

    expect(page.locator("h1")).to_have_text("Thank you, we have your request")
    assert len(submissions(live_app)) == 1


def test_tms_screen_end_to_end(page: Page, live_app: Flask) -> None:
    # Campaign parameters on the landing address must survive the post (the form has no action).
    page.goto("/screening/tms?utm_source=newsletter")
    expect(page.locator("h1")).to_have_text("Could TMS therapy be right for you?")

    # Sending with items unanswered names each one beside its question.
    fill_contact(page)
    page.click("button[type=submit]")
    for key in TMS_ITEMS:
        expect(page.locator(f"#{key}-error")).to_have_text("Error: Answer yes or no.")
    expect(page.locator("#first_name")).to_have_value("Jane")

    answers = {key: index % 2 == 0 for index, key in enumerate(TMS_ITEMS)}
    for key, yes in answers.items():
        page.click(f"label[for={key}-{0 if yes else 1}]")
    page.click("button[type=submit]")

    expect(page.locator("h1")).to_have_text("Thank you, we have your request")
    for text in TMS_ITEMS.values():
        expect(page.locator("body")).not_to_contain_text(text)
    [stored] = submissions(live_app)
    assert stored.form == "tms_screen"
    assert stored.answers == answers
    assert stored.lead.source["utm_source"] == "newsletter"
    assert stored.lead.treatment_interest == "tms"
