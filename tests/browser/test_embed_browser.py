"""The embedded form on a clinic's page from another origin, in Debian's Chromium.

The app is served at http://localhost:<port>, the clinic's page at http://127.0.0.1:<port>: a
different site, so the browser sends the frame no SameSite=Lax cookie, as on a real clinic's
site. The page is the README's snippet as written, so the documented snippet is what is tested.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from intake_service.db import Database
from intake_service.models import Lead
from tests.browser.test_forms_browser import ARTIFACTS, PHONE, browser  # noqa: F401
from tests.support.services import free_port

pytestmark = pytest.mark.browser

README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDER = "https://intake.clinic.example"
DESKTOP = {"width": 1280, "height": 800}
SNIPPET_HEIGHT = "900px"  # the iframe's height in the snippet, before the form says its own
SCREENSHOTS = ARTIFACTS / "screenshots"


def readme_snippet(service: str) -> str:
    """The README's copy-paste snippet, pointed at `service`."""
    section = README.read_text().split("## Put the form on your website", 1)[1]
    snippet = re.search(r"```html\n(.*?)```", section, re.S)
    assert snippet, "the README's embed section has no html snippet"
    assert SNIPPET_HEIGHT in snippet.group(1)
    return snippet.group(1).replace(PLACEHOLDER, service)


def clinic_page(snippet: str) -> bytes:
    # A test-only listener beside the snippet records what the form told the page.
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sunrise Clinic</title>
<style>body {{ margin: 0; font-family: Georgia, serif; background: #f3efe6; }}
header {{ background: #2d4a3e; color: #fff; padding: 1rem 1.5rem; font-size: 1.5rem; }}
.page {{ max-width: 48rem; margin: 0 auto; padding: 1rem; }}
footer {{ background: #2d4a3e; color: #fff; padding: 2rem 1.5rem; }}</style>
</head><body>
<header>Sunrise Clinic &middot; Ketamine, Spravato and TMS</header>
<div class="page">
<h1>Talk to our care team</h1>
<p>Send us a note and we will call you back.</p>
{snippet}
</div>
<footer>Sunrise Clinic, 100 Main St, Los Angeles</footer>
<script>
  window.told = [];
  window.addEventListener("message", function (event) {{
    window.told.push({{origin: event.origin, data: event.data}});
  }});
</script>
</body></html>""".encode()


@dataclass
class ClinicSite:
    url: str
    server: ThreadingHTTPServer


def serve_clinic_site(body: bytes) -> ClinicSite:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name=f"clinic-{port}", daemon=True).start()
    return ClinicSite(f"http://127.0.0.1:{port}", server)


@dataclass
class Sites:
    app: Flask
    service: str
    allowed: ClinicSite
    other: ClinicSite


@pytest.fixture
def sites(make_app: Callable[..., Flask]) -> Iterator[Sites]:
    app_port = free_port()
    service = f"http://localhost:{app_port}"
    body = clinic_page(readme_snippet(service))
    allowed, other = serve_clinic_site(body), serve_clinic_site(body)
    app = make_app(  # CSRF on, as in production
        EMBED_ORIGINS=allowed.url,
        PUBLIC_BASE_URL=service,
        # Playwright fills the form faster than a person: keep the lead out of spam.
        SPAM_MIN_FILL_SECONDS="0.001",
    )
    assert app.config.get("WTF_CSRF_ENABLED", True)
    server = make_server("127.0.0.1", app_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    yield Sites(app, service, allowed, other)
    server.shutdown()
    thread.join(timeout=10)
    for site in (allowed, other):
        site.server.shutdown()
        site.server.server_close()


def leads(app: Flask) -> list[Lead]:
    db: Database = app.extensions["intake.db"]
    with db.session() as session:
        return list(session.scalars(select(Lead)))


def frame_height(page: Page) -> float:
    return float(page.evaluate("document.getElementById('intake-form').offsetHeight"))


def content_height(page: Page) -> float:
    frame = page.frame_locator("#intake-form").locator("html")
    return float(frame.evaluate("e => Math.ceil(e.getBoundingClientRect().height)"))


def fits(page: Page) -> None:
    """Wait until the iframe took the height the form last reported, and check it is the form's."""
    page.wait_for_function(
        """() => {
            const sizes = window.told.filter(m => m.data.type === "intake:resize");
            return sizes.length > 0 &&
                document.getElementById("intake-form").offsetHeight === sizes.at(-1).data.height;
        }"""
    )
    assert frame_height(page) == content_height(page)


def shoot(page: Page, name: str, size: dict[str, int]) -> None:
    """The first screen at `size`, and the whole page at its width.

    Chromium leaves a cross-origin frame unpainted below the viewport in a full-page shot, so
    the whole page is shot with a viewport as tall as the page (the frame's height depends on
    the width only).
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width, height = size["width"], size["height"]
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}x{height}.png"))
    whole = int(page.evaluate("document.documentElement.scrollHeight"))
    page.set_viewport_size({"width": width, "height": whole})
    # Two animation frames in the frame's own process: it has painted at the new size.
    frame = page.frame_locator("#intake-form").locator("html")
    frame.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-whole.png"))
    page.set_viewport_size(size)


def test_the_form_on_an_allowed_site_fits_itself_and_sends_and_elsewhere_is_refused(
    browser: Browser,  # noqa: F811
    sites: Sites,
) -> None:
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)

    # On the allowed site the form loads in the frame and the frame takes the form's height.
    page.goto(sites.allowed.url)
    frame = page.frame_locator("#intake-form")
    expect(frame.locator("h1")).to_have_text("Contact us")
    fits(page)
    phone_height = frame_height(page)
    assert f"{phone_height:.0f}px" != SNIPPET_HEIGHT
    assert frame.locator("html").evaluate("e => e.scrollHeight <= window.innerHeight")
    told = page.evaluate("window.told")
    assert told and {m["origin"] for m in told} == {sites.service}
    assert {m["data"]["type"] for m in told} == {"intake:resize"}
    shoot(page, "embed-on-clinic-site", PHONE)
    page.set_viewport_size(DESKTOP)
    page.wait_for_function(
        "h => document.getElementById('intake-form').offsetHeight < h", arg=phone_height
    )
    fits(page)
    shoot(page, "embed-on-clinic-site", DESKTOP)

    # Sent from inside the frame, with no cookie: one lead, the thank-you page in the frame,
    # and the page told only that a form was sent.
    frame.locator("#first_name").fill("Jane")
    frame.locator("#last_name").fill("Doe")
    frame.locator("#email").fill("jane@example.com")
    frame.locator("#phone").fill("(310) 555-0123")
    frame.locator("label[for=callback_window-1]").click()
    frame.locator("button[type=submit]").click()
    expect(frame.locator("h1")).to_have_text("Thank you, we have your request")
    page.wait_for_function("() => window.told.some(m => m.data.type === 'intake:submitted')")
    fits(page)
    submitted = [m for m in page.evaluate("window.told") if m["data"]["type"] == "intake:submitted"]
    assert submitted == [{"origin": sites.service, "data": {"type": "intake:submitted"}}]
    [lead] = leads(sites.app)
    assert (lead.first_name, lead.status, lead.callback_window) == ("Jane", "new", "afternoon")
    shoot(page, "embed-thank-you", DESKTOP)
    assert refused == []

    # On a site not in EMBED_ORIGINS, Chromium refuses to show the form in the frame.
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text):
        page.goto(sites.other.url)
    page.wait_for_load_state("load")
    assert page.frame_locator("#intake-form").locator("form").count() == 0
    assert page.evaluate("window.told") == []
    assert f"{frame_height(page):.0f}px" == SNIPPET_HEIGHT
    assert len(leads(sites.app)) == 1
    context.close()
