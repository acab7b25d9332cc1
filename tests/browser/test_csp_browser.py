"""The strict Content-Security-Policy in a real browser: pages styled and scripted, no violation."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from intake_service.db import Database
from tests.support import factories
from tests.support.services import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
COORDINATOR = "coordinator@clinic.example"


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
def base_url(make_app: Callable[..., Flask]) -> Iterator[str]:
    app = make_app()
    db: Database = app.extensions["intake.db"]
    with db.transaction() as session:
        factories.user(session, "coordinator", email=COORDINATOR)
        factories.lead(session)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


def watch(page: Page) -> list[str]:
    """Console lines reporting a refused script, style or frame."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


def test_public_form_is_styled_under_the_policy(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    refused = watch(page)
    page.goto(f"{base_url}/contact")
    header = page.locator("header.site")
    # The brand colour comes from the nonced <style>: refused, the header would be transparent.
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(11, 79, 138)"
    assert refused == []
    page.close()


def test_staff_inbox_runs_its_scripts_under_the_policy(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    refused = watch(page)
    page.goto(f"{base_url}/login")
    page.fill("#email", COORDINATOR)
    page.fill("#password", factories.STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/staff/leads")
    page.wait_for_function("() => window.htmx !== undefined")
    assert page.locator("tr.lead-row").count() == 1
    assert refused == []
    page.close()


def test_a_foreign_page_cannot_frame_the_staff_app(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    page.set_content(f'<iframe id="f" src="{base_url}/login"></iframe>')
    page.wait_for_timeout(1500)
    frame = page.frame_locator("#f")
    assert frame.locator("#email").count() == 0, "the sign-in page rendered inside a frame"
