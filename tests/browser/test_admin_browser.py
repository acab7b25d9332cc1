"""The admin app in a real browser (Debian's Chromium via Playwright), CSRF on, laptop and phone.

The template editor is driven as an admin uses it: typing, watching the preview and the
segment count follow, saving, comparing, restoring; refusals keep the old version; a test
send reaches the admin's own address through SMTP and nobody else's.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from werkzeug.serving import make_server

from intake_service.db import Database, utcnow
from intake_service.domain import branding, clinic_settings
from intake_service.domain.compliance import audit
from intake_service.domain.leads import routing_editing
from intake_service.domain.outreach import processing
from intake_service.models import BlockedValue, Message, SmsPause, Template, TemplateVersion
from tests.domain.builders import load_templates
from tests.support import factories, images
from tests.support.services import free_port
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
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
ADMIN = "admin@clinic.example"
COORDINATOR = "coordinator@clinic.example"


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
def live_app(make_app: Callable[..., Flask], smtp_server: SmtpServer) -> Flask:
    app = make_app(SMTP_URL=smtp_server.url)  # CSRF on, as in production
    db: Database = app.extensions["intake.db"]
    load_templates(db)
    with db.transaction() as session:
        factories.user(session, "admin", email=ADMIN, display_name="Ada")
        factories.user(session, "coordinator", email=COORDINATOR, display_name="Casey")
    return app


@pytest.fixture
def base_url(live_app: Flask) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-admin", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def new_page(browser: Browser, base_url: str) -> Iterator[Callable[..., Page]]:
    contexts: list[BrowserContext] = []

    def make(size: str = "laptop", email: str = ADMIN, path: str = "/admin/") -> Page:
        context = browser.new_context(base_url=base_url, **SIZES[size])
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"/login?next={path}")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(factories.STAFF_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**{path}")
        page.wait_for_load_state("load")
        return page

    yield make
    for context in contexts:
        context.close()


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


def template_id(app: Flask, key: str, channel: str) -> int:
    db: Database = app.extensions["intake.db"]
    with db.session() as session:
        return int(
            session.scalars(
                sa.select(Template.id).where(
                    Template.key == key, Template.channel == channel, Template.locale == "en"
                )
            ).one()
        )


def version_numbers(app: Flask, template: int) -> list[int]:
    db: Database = app.extensions["intake.db"]
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(TemplateVersion.version)
                .where(TemplateVersion.template_id == template)
                .order_by(TemplateVersion.version)
            )
        )


def retype(page: Page, text: str) -> None:
    """Empty the text message box and type `text` key by key, as a person would."""
    box = page.locator("#body_text")
    box.fill("")
    box.press_sequentially(text, delay=5)


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_admin_edits_the_sms_template_watching_preview_and_segments_then_restores(
    new_page: Callable[..., Page], live_app: Flask, size: str
) -> None:
    page = new_page(size, path="/admin/templates")
    check_axe(page, "templates list")
    shot(page, f"admin-templates-{size}")
    page.get_by_role("link", name="patient_checkin (Text (SMS), English)").click()
    page.wait_for_url("**/admin/templates/*")
    expect(page.locator("#sms-segments")).to_have_text("2")  # the shipped text, filled in
    check_axe(page, "editor (sms)")

    retype(page, "Hi {{ patient.first_name }}, it's {{ clinic.name }}. Call {{ clinic.phone }}.")
    bubble = page.locator("#sms-bubble")
    expect(bubble).to_have_text("Hi Jane, it's Sunrise Clinic. Call (310) 555-0100.")
    expect(page.locator("#sms-segments")).to_have_text("1")
    expect(page.locator("#sms-encoding")).to_have_text("GSM-7")
    expect(page.locator("#sms-characters")).to_have_text("50")

    # One curly apostrophe switches the whole text to UCS-2.
    page.locator("#body_text").press("End")
    page.locator("#body_text").press_sequentially(" We\u2019re here.", delay=5)
    expect(page.locator("#sms-encoding")).to_have_text("UCS-2")
    expect(page.locator("#sms-warnings")).to_contain_text("not in the GSM alphabet")
    expect(bubble).to_contain_text("We\u2019re here.")
    shot(page, f"admin-editor-sms-ucs2-{size}")

    # Clicking a variable inserts it where the cursor is, and the preview follows.
    retype(page, "Hello ")
    page.get_by_role("button", name="patient.first_name insert").click()
    expect(page.locator("#body_text")).to_have_value("Hello {{ patient.first_name }}")
    expect(bubble).to_have_text("Hello Jane")

    retype(page, "Hi {{ patient.first_name }}, it's {{ clinic.name }}. Reply STOP to opt out.")
    expect(bubble).to_have_text("Hi Jane, it's Sunrise Clinic. Reply STOP to opt out.")
    page.locator("#note").fill("Shorter first line")
    # Let the live preview the note set off finish first: its response, landing after the
    # save's, would put back the session cookie without the "Saved" flash.
    page.locator("#note").press("Tab")
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Save as version 2").click()
    expect(page.locator(".flash").first).to_contain_text("Saved as version 2")
    expect(page.locator("#version-2")).to_contain_text("Shorter first line")
    expect(page.locator("#version-2")).to_contain_text(ADMIN)
    shot(page, f"admin-editor-sms-saved-{size}")

    page.get_by_role("link", name="Compare version 1 with version 2").click()
    page.wait_for_url("**/compare?*")
    expect(page.locator("tr.removed")).to_contain_text("Would you still like a call")
    expect(page.locator("tr.added")).to_contain_text("Reply STOP to opt out.")
    check_axe(page, "compare")
    shot(page, f"admin-compare-{size}")

    page.get_by_role("button", name="Restore version 1").click()
    expect(page.locator(".flash").first).to_contain_text("Version 1 restored as version 3")
    expect(page.locator("#sms-bubble")).to_contain_text("Would you still like a call")
    tid = template_id(live_app, "patient_checkin", "sms")
    assert version_numbers(live_app, tid) == [1, 2, 3]


@pytest.mark.parametrize(
    ("draft", "words"),
    [
        ("Hi {{ lead.nonexistent }}", "lead.nonexistent }} is not a variable patient messages get"),
        ("Hi {{ ''.__class__ }}", "the sandbox refuses __class__"),
        ("Your answers: {{ lead.answers }}", "lead.answers is health information"),
    ],
    ids=["unknown-variable", "sandbox-escape", "answer-in-sms"],
)
def test_a_refused_draft_shows_why_and_the_old_version_stays(
    new_page: Callable[..., Page], live_app: Flask, draft: str, words: str
) -> None:
    tid = template_id(live_app, "patient_first_reply", "sms")
    page = new_page(path=f"/admin/templates/{tid}")
    retype(page, draft)
    # The preview says so while typing, before any save.
    expect(page.locator("#preview-problems")).to_contain_text(words)
    page.get_by_role("button", name="Save as version 2").click()
    problems = page.locator("#save-problems")
    expect(problems).to_contain_text("Not saved")
    expect(problems).to_contain_text(words)
    expect(page.locator("#body_text")).to_have_value(draft)  # the draft is kept to fix
    expect(page.locator("#version-2")).to_have_count(0)
    assert version_numbers(live_app, tid) == [1]


def test_a_test_email_arrives_at_the_admin_own_address_only(
    new_page: Callable[..., Page], live_app: Flask, smtp_server: SmtpServer
) -> None:
    tid = template_id(live_app, "patient_first_reply", "email")
    page = new_page(path=f"/admin/templates/{tid}")
    expect(page.locator("#email-frame")).to_be_visible()
    frame = page.frame_locator("#email-frame")
    expect(frame.locator("body")).to_contain_text("Thank you for reaching out to Sunrise Clinic")
    page.locator("#sample_treatment").select_option("spravato")
    expect(frame.locator("body")).to_contain_text("About Spravato")
    page.locator("#subject").fill("Draft: thanks, {{ patient.first_name }}")
    expect(page.locator("#email-subject")).to_have_text("Draft: thanks, Jane")
    check_axe(page, "editor (email)")
    shot(page, "admin-editor-email-laptop")
    page.get_by_role("button", name="Send a test to me").click()
    expect(page.locator("#test-sent")).to_contain_text(f"Test sent to {ADMIN}")
    (mail,) = smtp_server.wait_for(1)
    time.sleep(0.5)  # a second copy (say, from a stray background request) would be here by now
    assert len(smtp_server.messages) == 1
    assert mail.rcpt_tos == (ADMIN,)
    assert mail.message["Subject"] == "[TEST] Draft: thanks, Jane"
    assert "About Spravato" in mail.message.get_body(("plain",)).get_content()
    assert version_numbers(live_app, tid) == [1]  # a test saves nothing
    db: Database = live_app.extensions["intake.db"]
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_a_disabled_sequence_step_is_not_planned_for_the_next_lead(
    new_page: Callable[..., Page], live_app: Flask
) -> None:
    page = new_page(path="/admin/sequences")
    expect(page.locator("#applies-note")).to_contain_text("leads that arrive after you save it")
    check_axe(page, "sequences")
    shot(page, "admin-sequences-laptop")
    tms = page.locator("#seq-tms")
    tms.get_by_role("button", name="Disable day1 patient text").click()
    expect(page.locator(".flash").first).to_contain_text("Step disabled")
    expect(page.locator("#seq-tms")).to_contain_text("off")

    db: Database = live_app.extensions["intake.db"]
    with db.transaction() as session:
        lead = factories.lead(session, treatment_interest="tms", sms_consent=True)
        lead_id = lead.id
    processing.process_lead(db, live_app.extensions["intake.settings"], lead_id)
    with db.session() as session:
        planned = {
            (m.step_key, m.channel)
            for m in session.scalars(sa.select(Message).where(Message.lead_id == lead_id))
        }
    assert ("first", "sms") in planned and ("day3", "email") in planned
    assert ("day1", "sms") not in planned


def branded(app: Flask) -> None:
    """Routing with two queues, a catch-all and an evening rule; a logo and a colour."""
    db: Database = app.extensions["intake.db"]
    who = audit.Actor(None, ADMIN)
    with db.transaction() as session:
        clinician = factories.user(session, "clinician", display_name="Dr. Rivera")
        other = factories.user(session, "clinician", display_name="Sam Okafor")
        tms = routing_editing.add_queue(session, "TMS", "", who)
        evenings = routing_editing.add_queue(session, "Evenings", "evenings@clinic.example", who)
        for user in (clinician, other):
            routing_editing.add_member(session, tms, user.id, who)
        member = routing_editing.add_member(session, evenings, other.id, who)
        routing_editing.set_member_off(session, member, True, who)
        rule = {"treatment": "tms", "priority": "high", "queue_id": str(tms)}
        routing_editing.add_rule(session, routing_editing.parse_rule(session, rule), who)
        night = {"queue_id": str(evenings), "hour_from": "18", "hour_to": "8"}
        routing_editing.add_rule(session, routing_editing.parse_rule(session, night), who)
        branding.store_logo(session, images.png(), who)
        settings = app.extensions["intake.settings"]
        clinic_settings.update(session, settings, {"brand_color": "#5a2d82"}, who)


def test_every_admin_page_passes_axe_and_a_coordinator_is_refused_them_all(
    new_page: Callable[..., Page], live_app: Flask, base_url: str
) -> None:
    db: Database = live_app.extensions["intake.db"]
    with db.transaction() as session:
        lead = factories.lead(session)
        failed = factories.message(session, lead, "failed", last_error="server_error")
        failed_id = failed.id
        lead_id, lead_email = lead.id, lead.email
        session.add_all(
            [
                BlockedValue(
                    kind="domain", value="spammy.example", note="bot wave", created_by=ADMIN
                ),
                BlockedValue(kind="phone_prefix", value="+4470"),
                SmsPause(
                    scope="prefix", value="+1213", reason="40 texts in the last hour, usually 0.3"
                ),
                SmsPause(
                    scope="country",
                    value="+44",
                    reason="12 texts in the last hour, usually 0.0",
                    lifted_at=utcnow(),
                    lifted_by=ADMIN,
                ),
            ]
        )
    tid = template_id(live_app, "team_new_lead", "email")
    branded(live_app)
    paths = {
        "overview": "/admin/",
        "failed": "/admin/messages/failed",
        "failed-detail": f"/admin/messages/failed/{failed_id}",
        "users": "/admin/users",
        "settings": "/admin/settings",
        "routing": "/admin/routing",
        "audit": "/admin/audit",
        "abuse": "/admin/abuse",
        "data-requests": f"/admin/data-requests?q={lead_email}",
        "data-request": f"/admin/data-requests/{lead_id}",
        "team-editor": f"/admin/templates/{tid}",
        "version": f"/admin/templates/{tid}/versions/1",
    }
    for size in ("laptop", "phone"):
        page = new_page(size)
        for name, path in paths.items():
            page.goto(path)
            page.wait_for_load_state("load")
            check_axe(page, f"{name} ({size})")
            shot(page, f"admin-{name}-{size}")
        # The public form with the clinic's logo and colour (set in branded()).
        page.goto("/contact")
        page.wait_for_load_state("load")
        logo = page.get_by_role("img", name="Sunrise Clinic")
        expect(logo).to_be_visible()
        assert logo.evaluate("img => img.naturalWidth") > 0  # the served file really loaded
        header = page.locator("header.site")
        assert header.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(90, 45, 130)"
        check_axe(page, f"contact with logo ({size})")
        shot(page, f"public-contact-branded-{size}")
    coordinator = new_page("phone", COORDINATOR, "/staff/leads")
    assert coordinator.get_by_role("link", name="Admin").count() == 0
    for path in [*paths.values(), "/admin/templates", "/admin/sequences"]:
        response = coordinator.goto(path)
        assert response is not None and response.status == 403, path
