"""The staff app in a real browser (Debian's Chromium via Playwright), CSRF on, laptop and phone."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from werkzeug.serving import make_server

from intake_service.db import Database
from tests.support import factories
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
SIZES = {
    "laptop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
COORDINATOR = "coordinator@clinic.example"
CLINICIAN = "clinician@clinic.example"


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
    app = make_app()  # CSRF on, as in production
    db: Database = app.extensions["intake.db"]
    with db.transaction() as session:
        factories.user(session, "coordinator", email=COORDINATOR, display_name="Casey")
        factories.user(session, "clinician", email=CLINICIAN, display_name="Dr Lee")
    return app


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
def new_context(browser: Browser, base_url: str) -> Iterator[Callable[[str], BrowserContext]]:
    contexts: list[BrowserContext] = []

    def make(size: str = "laptop") -> BrowserContext:
        context = browser.new_context(base_url=base_url, **SIZES[size])
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Page, email: str, path: str = "/staff/leads") -> None:
    page.goto(path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")
    page.wait_for_load_state("load")


def submit_through_api(base_url: str, first_name: str) -> str:
    body = {
        "form": "contact",
        "contact": {
            "first_name": first_name,
            "last_name": "Rivera",
            "email": f"{first_name.lower()}@patients.example",
            "phone": "(310) 555-0123",
            "callback_window": "evening",
        },
        "treatment_interest": "tms",
        "message": "Could TMS help me?",
        "consent": {"sms": True, "email": True},
    }
    response = requests.post(f"{base_url}/api/v1/submissions", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["lead_id"])


def check_axe(page: Page, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']][:3]})" for v in bad
    )


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_coordinator_sees_a_new_lead_arrive_claims_calls_and_schedules(
    new_context: Callable[[str], BrowserContext], base_url: str, live_app: Flask, size: str
) -> None:
    db: Database = live_app.extensions["intake.db"]
    with db.transaction() as session:
        factories.lead(session, first_name="Waiting", age=__import__("datetime").timedelta(hours=2))
    page = new_context(size).new_page()
    sign_in(page, COORDINATOR)
    check_axe(page, "inbox")
    expect(page.locator("#live")).to_contain_text("Live")
    page.evaluate("window.__noReload = true")
    # Letters only: the intake rules refuse digits in a name.
    name = "Maya" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:4])
    lead_id = submit_through_api(base_url, name)
    row = page.locator(f"#lead-{lead_id}")
    expect(row).to_be_visible(timeout=15_000)
    # It arrived at the top, without a reload.
    assert page.evaluate("window.__noReload") is True
    assert page.locator("tr.lead-row").first.get_attribute("data-lead-id") == lead_id
    shot(page, f"inbox-{size}")

    row.get_by_role("button", name=f"Claim {name}").click()
    expect(page.locator(".flash")).to_contain_text("You claimed this lead")
    page.goto(f"/staff/leads/{lead_id}")
    expect(page.locator("#owner")).to_contain_text("Casey")
    page.get_by_label("Left a voicemail").check()
    page.locator("#call-note").fill("Left a message about TMS")
    page.get_by_role("button", name="Log call").click()
    expect(page.locator(".flash")).to_contain_text("Call logged")
    page.locator("#cb-time").fill("23:30")
    page.get_by_role("button", name="Schedule callback").click()
    expect(page.locator(".flash")).to_contain_text("Callback scheduled")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Call: Left a voicemail")
    expect(timeline).to_contain_text("Left a message about TMS")
    expect(timeline).to_contain_text("Callback scheduled")
    expect(timeline).to_contain_text("Claimed")
    expect(timeline).to_contain_text("Contact form")
    check_axe(page, "lead")
    shot(page, f"lead-{size}")

    page.get_by_role("link", name="Callbacks").click()
    expect(page.locator("main")).to_contain_text(name)
    check_axe(page, "callbacks")
    shot(page, f"callbacks-{size}")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("h1")).to_have_text("Speed to lead")
    check_axe(page, "dashboard")
    shot(page, f"dashboard-{size}")


def test_two_browsers_claim_the_same_lead_and_one_is_told(
    new_context: Callable[[str], BrowserContext], live_app: Flask
) -> None:
    db: Database = live_app.extensions["intake.db"]
    with db.transaction() as session:
        lead_id = factories.lead(session, first_name="Contested").id
    first, second = new_context("laptop").new_page(), new_context("phone").new_page()
    sign_in(first, COORDINATOR, f"/staff/leads/{lead_id}")
    sign_in(second, CLINICIAN, f"/staff/leads/{lead_id}")
    first.get_by_role("button", name="Claim", exact=True).click()
    expect(first.locator(".flash")).to_contain_text("You claimed this lead")
    second.get_by_role("button", name="Claim", exact=True).click()
    expect(second.locator(".flash.error")).to_contain_text("Casey has already claimed this lead")
    shot(second, "claim-lost-phone")


def test_clinician_is_refused_admin_and_login_page_is_accessible(
    new_context: Callable[[str], BrowserContext],
) -> None:
    page = new_context("phone").new_page()
    page.goto("/login")
    check_axe(page, "login")
    shot(page, "login-phone")
    sign_in(page, CLINICIAN)
    assert page.get_by_role("link", name="Admin").count() == 0
    response = page.goto("/admin/")
    assert response is not None and response.status == 403


def test_inbox_by_keyboard_alone(
    new_context: Callable[[str], BrowserContext], live_app: Flask
) -> None:
    import datetime as dt

    db: Database = live_app.extensions["intake.db"]
    with db.transaction() as session:
        factories.lead(session, first_name="Alpha", age=dt.timedelta(hours=3))
        second = factories.lead(session, first_name="Bravo", age=dt.timedelta(hours=2)).id
    page = new_context("laptop").new_page()
    sign_in(page, COORDINATOR)
    page.keyboard.press("?")
    expect(page.locator("#keys")).to_be_visible()
    page.keyboard.press("Escape")
    page.locator("#q").focus()
    page.keyboard.type("jk")  # typing in the search box is not a shortcut
    expect(page.locator("tr.lead-row.selected")).to_have_count(0)
    page.locator("#q").fill("")
    page.locator("h1").click()
    page.keyboard.press("j")
    page.keyboard.press("j")
    selected = page.locator("tr.lead-row.selected")
    expect(selected).to_have_attribute("data-lead-id", str(second))
    page.keyboard.press("c")
    expect(page.locator(".flash")).to_contain_text("You claimed this lead")
    page.wait_for_load_state("load")  # the shortcuts script runs before `load`
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url("**/staff/leads/*")
    expect(page.locator("h1")).to_contain_text("Example")


def test_inbox_deadlines_count_down_and_a_reply_from_my_lead_is_notified(
    new_context: Callable[[str], BrowserContext], live_app: Flask
) -> None:
    import datetime as dt

    import sqlalchemy as sa

    from intake_service.db import utcnow
    from intake_service.models import User

    db: Database = live_app.extensions["intake.db"]
    now = utcnow()
    with db.transaction() as session:
        casey = session.scalars(sa.select(User).where(User.email == COORDINATOR)).one()
        factories.lead(session, first_name="Robin", age=dt.timedelta(minutes=2), urgent=True)
        late = factories.lead(
            session, first_name="Late", age=dt.timedelta(hours=3), assignee_id=casey.id
        )
        factories.first_contact_due(session, late, now - dt.timedelta(hours=1))
        soon = factories.lead(session, first_name="Soon", age=dt.timedelta(minutes=20))
        factories.first_contact_due(session, soon, now + dt.timedelta(minutes=12, seconds=40))
        factories.lead(session, first_name="Fresh", age=dt.timedelta(seconds=10))
        factories.lead(
            session,
            first_name="Done",
            age=dt.timedelta(days=1),
            status="contacted",
            assignee_id=casey.id,
        )
        late_id = late.id
    pages = {}
    for size in ("laptop", "phone"):
        page = new_context(size).new_page()
        page.clock.install()  # time runs as usual until the test moves it on
        sign_in(page, COORDINATOR)
        order = [n.split()[0] for n in page.locator("tr.lead-row a.open").all_inner_texts()]
        assert order == ["Robin", "Late", "Fresh", "Soon", "Done"]
        expect(page.locator(f"#lead-{late_id} .badge.overdue")).to_be_visible()
        expect(page.locator(f"#lead-{soon.id} .due")).to_have_text("due in 12 min")
        expect(page.locator("tr.lead-row", has_text="Fresh").locator(".due")).to_have_text(
            "awaiting triage"
        )
        pages[size] = page

    factories.inbound(db, late_id, "Is tomorrow ok?")  # Late is Casey's lead
    for size, page in pages.items():
        reply = page.locator("#notify .notify-replies a")
        expect(reply).to_have_text("New reply from Late", timeout=15_000)
        assert reply.get_attribute("href") == f"/staff/leads/{late_id}"
        # One urgent lead and one reply; the title carries the count, never the name.
        page.wait_for_function("document.title.startsWith('(2) ')")
        assert "Late" not in page.title()
        check_axe(page, f"inbox with deadlines ({size})")
        shot(page, f"inbox-deadlines-{size}")

    laptop = pages["laptop"]
    laptop.clock.fast_forward("13:00")  # past Soon's deadline, without a reload
    expect(laptop.locator(f"#lead-{soon.id} .badge.overdue")).to_be_visible()
    expect(laptop.locator(f"#lead-{soon.id} .due")).to_have_count(0)


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_on_call_opens_a_paged_text_from_an_unknown_number_and_takes_it(
    new_context: Callable[[str], BrowserContext], live_app: Flask, size: str
) -> None:
    from intake_service.domain.outreach import inbound

    db: Database = live_app.extensions["intake.db"]
    settings = live_app.extensions["intake.settings"]
    crisis = inbound.InboundSms(
        "SM" + uuid.uuid4().hex, "+14155550123", "+13105550100", "I can't go on, I want to die"
    )
    text_id = inbound.receive(db, settings, crisis).inbound_id
    inbound.receive(
        db, settings, inbound.InboundSms("SM" + uuid.uuid4().hex, "+14155550188", "+1310", "hi?")
    )
    page = new_context(size).new_page()
    # The page's link, opened by someone not yet signed in.
    sign_in(page, CLINICIAN, f"/staff/texts/{text_id}")
    expect(page.locator("main blockquote")).to_have_text("I can't go on, I want to die")
    expect(page.locator("#ack-state")).to_contain_text("Until someone takes it")
    check_axe(page, "text")
    shot(page, f"unknown-text-{size}")
    page.get_by_role("button", name="I am taking this").click()
    expect(page.locator(".flash")).to_contain_text("You have taken this text")
    expect(page.locator("#ack-state")).to_contain_text(f"taken by {CLINICIAN}")
    page.get_by_role("link", name="Texts", exact=True).click()
    expect(page.locator("main")).to_contain_text("crisis words, taken")
    check_axe(page, "texts")
    shot(page, f"unknown-texts-{size}")
