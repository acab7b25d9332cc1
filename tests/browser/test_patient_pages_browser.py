"""The patient's side in Chromium, at phone and desktop sizes: every error at once with focus on
the summary, the clinic's identity and privacy notice, axe-core on every public page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from intake_service.domain.intake.answers import TMS_ITEMS
from tests.browser.test_forms_browser import (  # noqa: F401  (fixtures used by name)
    ARTIFACTS,
    base_url,
    browser,
    live_app,
)

pytestmark = pytest.mark.browser

SCREENSHOTS = ARTIFACTS / "screenshots"
SIZES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
PUBLIC_PAGES = {
    "contact": "/contact",
    "tms": "/screening/tms",
    "phq9": "/screening/phq9",
    "gad7": "/screening/gad7",
    "privacy": "/privacy",
}


@pytest.fixture(params=sorted(SIZES))
def sized_page(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=base_url, device_scale_factor=1, **SIZES[request.param])
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.size_name = request.param  # type: ignore[attr-defined]
    yield tab
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = getattr(page, "size_name", "page")
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)


def check_axe(page: Page, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']][:3]})" for v in bad
    )


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/contact", {"first_name", "email"}),
        ("/screening/tms", {"first_name", "email", *(f"{key}-0" for key in TMS_ITEMS)}),
    ],
)
def test_empty_form_shows_every_error_at_once_with_focus_on_the_summary(
    sized_page: Page, path: str, fields: set[str]
) -> None:
    page = sized_page
    page.goto(path)
    page.get_by_role("button", name="Send").click()

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    hrefs = {
        (link.get_attribute("href") or "").removeprefix("#")
        for link in summary.get_by_role("link").all()
    }
    assert hrefs == fields
    first_name = page.locator("#first_name")
    expect(first_name).to_have_attribute("aria-invalid", "true")
    # The red border shows: the invalid rule wins over the type rule.
    assert first_name.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(179, 38, 30)"
    shot(page, f"errors-{path.strip('/').replace('/', '-')}")
    check_axe(page, f"errors on {path}")

    summary.get_by_role("link").filter(has_text="First name").click()
    expect(first_name).to_be_focused()


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("name", sorted(PUBLIC_PAGES))
def test_public_page_shows_the_clinic_and_passes_axe(
    sized_page: Page, name: str, lang: str
) -> None:
    page = sized_page
    page.goto(f"{PUBLIC_PAGES[name]}?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang

    footer = page.locator("footer.site")
    privacy = "Aviso de privacidad" if lang == "es" else "Privacy notice"
    expect(footer.get_by_role("link", name=privacy)).to_have_attribute("href", "/privacy")
    assert (page.locator("header.site a.call").get_attribute("href") or "").startswith("tel:+1")
    # Nothing wider than the screen (a phone must never scroll sideways). Measured against the
    # screen's width: a mobile viewport widens itself to fit an overflowing page.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width  # type: ignore[index]
    shot(page, f"{name}-{lang}")
    check_axe(page, f"{name} ({lang})")


def test_thank_you_page_at_each_size(sized_page: Page) -> None:
    page = sized_page
    page.goto("/contact")
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Email").fill("jane@example.com")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have your request")
    expect(page.locator("main").get_by_role("link", name="988").first).to_be_visible()
    shot(page, "thank-you")
    check_axe(page, "thank-you")


def test_spanish_visitor_fills_the_tms_self_screen_and_gets_a_spanish_thank_you(
    browser: Browser,  # noqa: F811
    base_url: str,  # noqa: F811
) -> None:
    context = browser.new_context(
        base_url=base_url,
        locale="es-MX",
        extra_http_headers={"Accept-Language": "es-MX,es"},
        **SIZES["phone"],
    )
    page = context.new_page()
    page.size_name = "phone"  # type: ignore[attr-defined]
    page.goto("/screening/tms")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "¿Podría la terapia TMS ser adecuada para usted?"
    )
    for group in (
        page.locator("fieldset").filter(has=page.locator("input[type=radio][value=yes]")).all()[:5]
    ):
        group.get_by_label("Sí").check()
    page.get_by_label("Nombre", exact=True).fill("Lucía")
    page.get_by_label("Correo electrónico").fill("lucia@example.com")
    shot(page, "tms-es-filled")
    page.get_by_role("button", name="Enviar").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Gracias, recibimos su solicitud")
    expect(page.locator("main")).to_contain_text("Le llamaremos en un plazo de un día hábil.")
    shot(page, "thank-you-es")
    check_axe(page, "thank-you (es)")
    context.close()


def test_screenshots_were_written() -> None:
    # Runs last in this module; a quick guard that the run left something to look at.
    assert Path(SCREENSHOTS).exists()


def test_dev_mailbox_never_scrolls_sideways(sized_page: Page, live_app: Flask) -> None:  # noqa: F811
    from tests.web.test_dev_mailbox_page import add_entry

    db = live_app.extensions["intake.db"]
    entry = add_entry(
        db,
        recipient="ana.a.rather.long.address.for.a.phone@patients-of-the-clinic.example",
        subject="Thanks for contacting Sunrise Clinic about Spravato and what happens next",
    )
    add_entry(db, channel="sms", recipient="+14155550134", subject=None, body_text="Hi Ana " * 30)
    page = sized_page
    for path in ("/dev/mailbox", f"/dev/mailbox/{entry}"):
        page.goto(path)
        # Against the screen's width: a mobile viewport widens to fit an overflowing page.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], (path, width)  # type: ignore[index]
    shot(page, "dev-mailbox-entry")
    page.goto("/dev/mailbox")
    shot(page, "dev-mailbox")
    check_axe(page, "dev mailbox")
