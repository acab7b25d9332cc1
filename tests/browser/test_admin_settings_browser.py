"""Clinic settings over the environment, in Debian's Chromium: the quiet-hours pages (a refusal
shown in words), the staff pages in the admin's zone, and an embedding site added and removed
by an admin deciding which clinic page may frame the form. axe-core on each page, phone and
laptop, with screenshots under test-artifacts/screenshots."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from intake_service.db import Database
from intake_service.domain import clinic_settings
from intake_service.domain.compliance import audit
from tests.browser.test_admin_browser import (  # noqa: F401
    ADMIN,
    SIZES,
    base_url,
    browser,
    check_axe,
    live_app,
    new_page,
    shot,
)
from tests.browser.test_embed_browser import Sites, sites  # noqa: F401
from tests.support import factories

pytestmark = pytest.mark.browser


def test_quiet_hours_and_settings_pages_pass_axe_and_a_widening_is_refused_in_words(
    new_page: Callable[..., Page],  # noqa: F811
    live_app: Flask,  # noqa: F811
) -> None:
    db: Database = live_app.extensions["intake.db"]
    with db.transaction() as session:
        clinic_settings.update(
            session,
            live_app.extensions["intake.settings"],
            {"timezone": "America/New_York", "embed_origins": "https://www.sunrise.example"},
            audit.Actor(None, ADMIN),
        )
        factories.lead(session, first_name="Pat")
    for size in ("phone", "laptop"):
        page = new_page(size, path="/admin/settings")
        check_axe(page, f"settings ({size})")
        shot(page, f"admin-settings-{size}")

        page.get_by_role("link", name="Review and edit quiet hours").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Quiet hours per state")
        texas = page.locator("#state-TX")
        expect(texas).to_contain_text("Mon-Sat 09:00-21:00; Sun 12:00-21:00")
        check_axe(page, f"quiet hours ({size})")
        shot(page, f"admin-quiet-hours-{size}")

        texas.get_by_role("link", name="Edit").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Quiet hours for Texas (TX)")
        check_axe(page, f"quiet hours Texas ({size})")
        shot(page, f"admin-quiet-hours-tx-{size}")
        # Sunday from 07:00 reaches past the federal 08:00: refused, said, nothing saved.
        page.locator("#from_sunday").fill("07:00")
        page.get_by_role("button", name="Save Texas's hours").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Texas, Sunday: 07:00-21:00 reaches past the federal window")
        expect(page.locator("#from_sunday")).to_have_attribute("aria-invalid", "true")
        check_axe(page, f"quiet hours refused ({size})")
        shot(page, f"admin-quiet-hours-refused-{size}")

        # A narrower Sunday is saved and listed.
        page.locator("#from_sunday").fill("13:00")
        page.get_by_role("button", name="Save Texas's hours").click()
        expect(page.locator("#state-TX")).to_contain_text("Sun 13:00-21:00")
        page.goto("/admin/settings/quiet-hours/TX")
        page.get_by_role("button", name="Back to the shipped rule").click()
        expect(page.locator("#state-TX")).to_contain_text("Sun 12:00-21:00")

        for name, path in (("callbacks", "/staff/callbacks"), ("dashboard", "/staff/dashboard")):
            page.goto(path)
            expect(page.locator("main")).to_contain_text("America/New_York")
            check_axe(page, f"{name} ({size})")
            shot(page, f"staff-{name}-admin-zone-{size}")


def frames_the_form(page: Page, url: str) -> bool:
    page.goto(url)
    page.wait_for_load_state("load")
    frame = page.frame_locator("#intake-form")
    try:
        expect(frame.locator("h1")).to_have_text("Contact us", timeout=4_000)
    except AssertionError:
        return False
    return True


def test_an_embedding_site_added_in_admin_may_frame_the_form_and_one_removed_may_not(
    browser: Browser,  # noqa: F811
    sites: Sites,  # noqa: F811
) -> None:
    db: Database = sites.app.extensions["intake.db"]
    with db.transaction() as session:
        factories.user(session, "admin", email=ADMIN)
    context = browser.new_context(base_url=sites.service, **SIZES["laptop"])
    context.set_default_timeout(10_000)
    page = context.new_page()
    assert frames_the_form(page, sites.allowed.url)  # EMBED_ORIGINS
    assert not frames_the_form(page, sites.other.url)

    page.goto("/login?next=/admin/settings")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/settings")
    box = page.get_by_label("Their origins, one a line")
    box.fill(f"{sites.other.url}\nnot a site")
    page.get_by_role("button", name="Save sites").click()
    expect(page.get_by_role("alert")).to_contain_text("'not a site' is not an origin")
    assert not frames_the_form(page, sites.other.url)  # nothing was saved

    page.goto("/admin/settings")
    box.fill(sites.other.url)  # the other site added, the environment's removed
    page.get_by_role("button", name="Save sites").click()
    expect(page.locator(".flash").first).to_contain_text("sites that may embed the forms")
    assert frames_the_form(page, sites.other.url)
    assert not frames_the_form(page, sites.allowed.url)
    context.close()
