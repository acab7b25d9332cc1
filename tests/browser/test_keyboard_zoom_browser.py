"""Keyboard only and zoomed in, in Chromium: the patient's pages without a mouse, and at 200%.

Keyboard: Tab reaches every control of the contact form and the TMS self-screen in the order
they are read, each with the focus ring showing; a radio group is one stop, chosen with Space
and the arrow keys; Enter sends; after a failed send the error summary has focus and its links
move focus into their fields.

Zoom: a 1280x800 window zoomed to 200% lays a page out in a 640x400 CSS-pixel viewport with two
device pixels per CSS pixel, which is what the context here is (viewport 640x400,
device_scale_factor 2): the same width for media queries, the same font sizes in CSS pixels,
the same sharpness. Chromium's page zoom does exactly that; emulating it through the viewport
keeps the run deterministic (CSS `zoom` on <html> would also scale the viewport units and the
breakpoints differently from a real browser zoom). WCAG 1.4.4 asks for text at 200% without
loss of content, 1.4.10 for reflow without horizontal scrolling down to 320 CSS pixels, which is
1280 at 400%: both are checked, on every public page in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from intake_service.domain.compliance import unsubscribe
from intake_service.domain.intake.answers import TMS_ITEMS
from intake_service.models import Lead, Submission
from tests.browser.test_forms_browser import (  # noqa: F401  (fixtures used by name)
    base_url,
    browser,
    live_app,
)
from tests.browser.test_patient_pages_browser import PUBLIC_PAGES, SCREENSHOTS, SIZES, check_axe

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
# (CSS viewport, device pixels per CSS pixel): a 1280x800 window at 200% and at 400%.
ZOOMS = {
    "zoom200": ({"width": 640, "height": 400}, 2),
    "zoom400": ({"width": 320, "height": 200}, 4),
}
FORM_CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]"

# What the focused element is and how its focus shows.
FOCUSED = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  const r = e.getBoundingClientRect();
  return {
    key: e.getAttribute("name") || e.id || e.getAttribute("href") || e.tagName.toLowerCase(),
    tag: e.tagName.toLowerCase(), type: e.getAttribute("type"), value: e.value,
    focusVisible: e.matches(":focus-visible"), outline: s.outlineStyle,
    outlineWidth: parseFloat(s.outlineWidth), outlineColor: s.outlineColor,
    inView: r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth,
  };
}"""
# The stops Tab should make, in document order: every control a person can use, a radio group
# once (at its checked radio, else its first), nothing hidden or taken out of the order.
EXPECTED_STOPS = """(selector) => {
  const stops = [];
  const groups = new Set();
  for (const e of document.querySelectorAll(selector)) {
    if (e.tabIndex < 0 || e.disabled || e.closest("[aria-hidden=true]")) continue;
    const s = getComputedStyle(e);
    if (s.visibility === "hidden" || s.display === "none") continue;
    if (e.type === "radio") {
      if (groups.has(e.name)) continue;
      groups.add(e.name);
      stops.push(e.name);
      continue;
    }
    stops.push(e.getAttribute("name") || e.id || e.getAttribute("href") || e.tagName.toLowerCase());
  }
  return stops;
}"""


@pytest.fixture
def desktop(browser: Browser, base_url: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=base_url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def focused(page: Page) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(FOCUSED)
    return info


def tab(page: Page) -> dict[str, Any]:
    page.keyboard.press("Tab")
    return focused(page)


def assert_focus_shows(stop: dict[str, Any]) -> None:
    assert stop["focusVisible"], stop
    assert stop["outline"] == "solid" and stop["outlineWidth"] >= 3, stop
    assert stop["inView"], stop


def tab_through(page: Page) -> list[dict[str, Any]]:
    """Every stop from the top of the page to the Send button, each checked for its ring."""
    stops = []
    for _ in range(80):
        stop = tab(page)
        assert_focus_shows(stop)
        stops.append(stop)
        if stop["tag"] == "button":
            return stops
    raise AssertionError(f"Tab never reached the Send button: {[s['key'] for s in stops]}")


@pytest.mark.parametrize("path", ["/contact", "/screening/tms"])
def test_tab_reaches_every_control_in_reading_order_with_the_ring_showing(
    desktop: Page, path: str
) -> None:
    page = desktop
    page.goto(path)
    assert page.locator("[tabindex]:not([tabindex='-1']):not([tabindex='0'])").count() == 0

    stops = [stop["key"] for stop in tab_through(page)]

    expected = page.evaluate(EXPECTED_STOPS, FORM_CONTROLS)
    assert stops == expected[: len(stops)]
    assert stops[0] == "#main"  # the skip link comes first
    fields = [
        key for key in stops if key in TMS_ITEMS or key in CONTACT_ORDER or key.startswith("item_")
    ]
    items = list(TMS_ITEMS) if path == "/screening/tms" else []
    assert fields == [*items, *CONTACT_ORDER]


CONTACT_ORDER = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "treatment_interest",
    "callback_window",
    "message",
    "sms_consent",
    "how_heard",
]


@pytest.mark.parametrize(
    ("path", "first_field"), [("/contact", "first_name"), ("/screening/tms", "first_name")]
)
def test_a_failed_send_by_keyboard_puts_focus_on_the_summary_whose_links_reach_the_fields(
    desktop: Page, path: str, first_field: str
) -> None:
    page = desktop
    page.goto(path)
    page.locator("#first_name").focus()
    page.keyboard.press("Enter")  # implicit submission from a text field

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    links = summary.get_by_role("link").all()
    assert links
    targets = [(link.get_attribute("href") or "").removeprefix("#") for link in links]
    for position, target in enumerate(targets):
        summary.focus()
        for _ in range(position + 1):
            page.keyboard.press("Tab")
        stop = focused(page)
        assert stop["key"] == f"#{target}", (position, stop)
        assert_focus_shows(stop)
        page.keyboard.press("Enter")
        expect(page.locator(f"#{target}")).to_be_focused()
        assert focused(page)["inView"]
    shot(page, f"keyboard-errors-{path.strip('/').replace('/', '-')}")


def test_the_tms_self_screen_filled_and_sent_with_the_keyboard_alone(
    desktop: Page,
    live_app: Flask,  # noqa: F811
) -> None:
    page = desktop
    page.goto("/screening/tms")
    # Yes to the first three, no to the last two: Space picks the first radio of a group,
    # the right arrow moves the choice to the next.
    wanted = dict(zip(TMS_ITEMS, ["yes", "yes", "yes", "no", "no"], strict=True))
    typed = {"first_name": "Jane", "email": "jane.keys@patients.example", "message": "Hello."}
    for _ in range(80):
        stop = tab(page)
        key = stop["key"]
        if key in wanted:
            page.keyboard.press("Space")
            if wanted[key] == "no":
                page.keyboard.press("ArrowRight")
            expect(page.locator(f"input[name={key}][value={wanted[key]}]")).to_be_checked()
        elif key == "callback_window":
            # From the default ("Any time"): the arrow keys go round to "Morning".
            page.keyboard.press("ArrowDown")
            # The ring on the chosen radio, as the person sees it (the visible part only).
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "keyboard-focus-radio.png"))
        elif key in typed:
            page.keyboard.type(typed[key])
        elif stop["tag"] == "button":
            shot(page, "keyboard-tms-filled")
            page.keyboard.press("Enter")
            break
    else:
        raise AssertionError("Tab never reached the Send button")

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have your request")
    db = live_app.extensions["intake.db"]
    with db.session() as session:
        submission = session.scalars(select(Submission)).one()
        lead = session.get(Lead, submission.lead_id)
        assert lead is not None
        assert (lead.first_name, lead.email) == ("Jane", "jane.keys@patients.example")
        assert lead.callback_window == "morning"
        assert submission.answers == {key: value == "yes" for key, value in wanted.items()}


# --- 200% (and 400%) zoom --------------------------------------------------------------------

# What sticks out of the viewport or is cut by its own box: the reflow failures a person sees.
OVERFLOWS = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const name = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (e.className && typeof e.className === "string" ? "." + e.className.split(" ")[0] : "");
  for (const e of document.querySelectorAll("body *")) {
    if (e.closest(".visually-hidden, .skip, [aria-hidden=true], script, style")) continue;
    const s = getComputedStyle(e);
    if (s.display === "none" || s.visibility === "hidden") continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -1 || r.right > width + 1) found.push(["outside", name(e), r.left, r.right]);
    const own = ["INPUT", "SELECT", "TEXTAREA"].includes(e.tagName);
    if (!own && s.overflowX !== "visible" && e.scrollWidth > e.clientWidth + 1) {
      found.push(["cut", name(e), e.scrollWidth, e.clientWidth]);
    }
  }
  return found;
}"""


@pytest.fixture(params=sorted(ZOOMS))
def zoomed(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[Page]:  # noqa: F811
    viewport, scale = ZOOMS[request.param]
    context = browser.new_context(base_url=base_url, viewport=viewport, device_scale_factor=scale)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.zoom_name = request.param  # type: ignore[attr-defined]
    yield tab
    context.close()


def every_public_page(page: Page, app: Flask, lang: str) -> Iterator[str]:
    """Visit each public page in `lang`, yielding its name once it has loaded."""
    for name, path in (
        ("contact", "/contact"),
        ("tms", "/screening/tms"),
        ("phq9", "/screening/phq9"),
        ("gad7", "/screening/gad7"),
        ("privacy", "/privacy"),
        ("embed-contact", "/embed/contact"),
        ("embed-tms", "/embed/screening/tms"),
        ("404", "/no-such-page"),
    ):
        page.goto(f"{path}?lang={lang}")
        yield name
    for name, path in (("contact-errors", "/contact"), ("tms-errors", "/screening/tms")):
        page.goto(f"{path}?lang={lang}")
        page.locator("button[type=submit]").click()
        expect(page.locator("[data-error-summary]")).to_be_focused()
        yield name
    page.goto(f"/contact?lang={lang}")
    page.locator("#first_name").fill("Jane")
    page.locator("#email").fill("jane.zoom@patients.example")
    page.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_be_visible()
    assert "/thank-you/" in page.url
    yield "thank-you"
    with app.extensions["intake.db"].session() as session:
        lead_id = session.scalars(select(Lead.id)).one()
    token = unsubscribe.token_for(lead_id, app.extensions["intake.settings"])
    page.goto(f"/unsubscribe/{token}?lang={lang}")
    yield "unsubscribe"
    page.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_be_visible()
    yield "unsubscribed"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_public_page_reflows_without_sideways_scrolling_or_clipping(
    zoomed: Page,
    live_app: Flask,  # noqa: F811
    lang: str,
) -> None:
    page = zoomed
    width = page.viewport_size["width"]  # type: ignore[index]
    problems = {}
    for name in every_public_page(page, live_app, lang):
        assert page.locator("html").get_attribute("lang") == lang, name
        scroll = page.evaluate("document.documentElement.scrollWidth")
        found = page.evaluate(OVERFLOWS)
        if scroll > width or found:
            problems[name] = (scroll, found[:5])
        shot(page, f"{page.zoom_name}-{name}-{lang}")  # type: ignore[attr-defined]
    assert problems == {}


# --- axe-core on the pages the other module does not reach -----------------------------------


@pytest.fixture(params=sorted(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=base_url, **SIZES[request.param])
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.size_name = request.param  # type: ignore[attr-defined]
    yield tab
    context.close()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_other_public_pages_pass_axe_in_both_languages(
    sized: Page,
    live_app: Flask,  # noqa: F811
    lang: str,
) -> None:
    # The forms and the privacy notice are checked in test_patient_pages_browser; these are
    # the rest: the embedded forms, the 404, the forms with every error, the thank-you and
    # unsubscribe pages.
    page = sized
    checked = []
    for name in every_public_page(page, live_app, lang):
        if name not in PUBLIC_PAGES:
            check_axe(page, f"{name} ({lang}, {page.size_name})")  # type: ignore[attr-defined]
            shot(page, f"axe-{name}-{lang}-{page.size_name}")  # type: ignore[attr-defined]
            checked.append(name)
    assert len(checked) == 8, checked
