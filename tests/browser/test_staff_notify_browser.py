"""The staff app's urgent lead, one-off message and notifications in Chromium, laptop and phone."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from intake_service.db import Database
from intake_service.domain.templates.versions import load_defaults
from tests.support import factories
from tests.support.services import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SIZES = {
    "laptop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
COORDINATOR = "coordinator@clinic.example"
CRISIS = [{"rule": "ideation", "category": "ideation", "words": "no reason to go on"}]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing, and CI requires the browser tests")
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def site(make_app: Callable[..., Flask]) -> Iterator[tuple[str, str]]:
    app = make_app()
    db: Database = app.extensions["intake.db"]
    with db.transaction() as session:
        load_defaults(session)
        factories.user(session, "coordinator", email=COORDINATOR, display_name="Casey")
        factories.lead(session, first_name="Calm")
        lead = factories.lead(
            session,
            first_name="Robin",
            message="I see no reason to go on, honestly.",
            urgent=True,
            sms_consent=True,
            triage={"priority": "high", "crisis": CRISIS, "crisis_version": "crisis-1"},
        )
        lead_id = str(lead.id)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", lead_id
    server.shutdown()
    thread.join(timeout=10)


def sign_in(page: Page) -> None:
    page.goto("/staff/leads")
    page.get_by_label("Email").fill(COORDINATOR)
    page.get_by_label("Password").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/leads")


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_urgent_lead_badge_message_preview_and_acknowledge(
    browser: Browser, site: tuple[str, str], size: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    base_url, lead_id = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=base_url, **SIZES[size])  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page)
    # The badge loads at once: one urgent lead nobody has acknowledged, in the title too.
    expect(page.locator("#notify .n-urgent")).to_have_text("1 urgent")
    page.wait_for_function("document.title.startsWith('(1) ')")
    first = page.locator("tr.lead-row").first
    expect(first).to_contain_text("Robin")
    expect(first.locator(".badge.urgent")).to_be_visible()

    toggle = page.locator("#sound-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("localStorage.getItem('staff.sound')") == "on"
    page.reload()
    expect(page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(SCREENSHOTS / f"staff-inbox-urgent-{size}.png"), full_page=True)

    page.goto(f"/staff/leads/{lead_id}")
    expect(page.locator("mark.crisis").first).to_have_text("no reason to go on")
    page.screenshot(path=str(SCREENSHOTS / f"staff-lead-urgent-{size}.png"), full_page=True)
    bad = [
        v for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert not bad, [v["id"] for v in bad]

    page.select_option("#msg-template", "patient_checkin")
    page.select_option("#msg-channel", "sms")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-body")).to_contain_text("Robin")
    page.screenshot(path=str(SCREENSHOTS / f"staff-message-preview-{size}.png"), full_page=True)
    bad = [
        v for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert not bad, [v["id"] for v in bad]
    page.locator("#send").click()
    expect(page.locator(".flash").first).to_contain_text("on its way")

    page.locator("#acknowledge").click()
    expect(page.locator("#ack-state")).to_contain_text("acknowledged by")
    page.wait_for_function("!document.title.startsWith('(')")
    context.close()
