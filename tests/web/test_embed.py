"""The embedded forms (/embed/...) through the test client: CSRF without cookies, one lead a post.

CSRF is on in every app here, as in production: the point is a token that works where the
browser sends no cookie at all, and a post without it that stores nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from intake_service.db import Database
from intake_service.models import Lead, OutboxEvent, Submission
from intake_service.security import embed_csrf
from intake_service.web.public.pages import CSRF_EXPIRED, NOT_A_FORM_POST
from tests.web.test_forms import Page, contact_data, count, post, tms_data

SITE = "https://www.sunrise.example"
SELF = "http://127.0.0.1:5000"  # PUBLIC_BASE_URL of the test settings
EMBED_PAGES = {"/embed/contact": contact_data, "/embed/screening/tms": tms_data}
# A test posts at once: too fast for the timing check, which test_spam_forms.py covers.
ENV = {"EMBED_ORIGINS": SITE, "SPAM_MIN_FILL_SECONDS": "0.001"}


@pytest.fixture
def embed_app(make_app: Callable[..., Flask]) -> Flask:
    application = make_app(**ENV)
    assert application.config.get("WTF_CSRF_ENABLED", True)
    return application


def database(app: Flask) -> Database:
    db: Database = app.extensions["intake.db"]
    return db


def stored(app: Flask) -> tuple[int, int, int]:
    db = database(app)
    return count(db, Lead), count(db, Submission), count(db, OutboxEvent)


def cookieless_page(app: Flask, path: str) -> Page:
    """The form as a third-party frame gets it: a client that keeps no cookie."""
    client = app.test_client(use_cookies=False)
    response = client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers, "an embedded page must not need a cookie"
    return Page(response.text)


def filled(page: Page, path: str, **overrides: Any) -> dict[str, Any]:
    fields = {
        name: page.value(name)
        for name in ("embed_token", "submission_token", "form_started", "sms_wording_version")
    }
    return EMBED_PAGES[path](**{**fields, **overrides})


def send(app: Flask, path: str, data: dict[str, Any], origin: str | None = SELF) -> Any:
    client = app.test_client(use_cookies=False)
    headers = {"Origin": origin} if origin else {}
    return post(client, path, data, headers=headers)


def test_the_embedded_form_has_no_site_chrome_and_its_outside_links_open_a_new_tab(
    embed_app: Flask,
) -> None:
    page = cookieless_page(embed_app, "/embed/contact")

    assert page.find_all("header") == []
    assert "site" not in (page.find_all("footer")[0].attr("class") or "")
    body = page.find_all("body")[0]
    assert body.attr("class") == "embedded"
    assert body.attr("data-parent-origins") == SITE
    assert "data-intake-submitted" not in body.attrs
    # The crisis line and the privacy notice are kept, and leave the frame.
    assert "988" in page.find_all("footer")[0].text and "911" in page.find_all("footer")[0].text
    leaving = [
        a for a in page.find_all("a") if (a.attr("href") or "").startswith(("tel:", "/privacy"))
    ]
    assert {a.attr("href") for a in leaving} >= {"tel:988", "tel:911", "/privacy?lang=en"}
    for link in leaving:
        assert (link.attr("target"), link.attr("rel")) == ("_blank", "noopener"), link.attrs
    # Its CSRF token is in the form; Flask-WTF's session-bound one is not.
    assert page.value("embed_token")
    assert page.find_all("input", name="csrf_token") == []
    # Scripts only from this site's files: embed.js talks to the clinic's page.
    scripts = [s.attr("src") for s in page.find_all("script")]
    assert "/static/public/embed.js" in scripts


def test_the_sites_own_form_keeps_its_header_and_footer(embed_app: Flask) -> None:
    page = Page(embed_app.test_client().get("/contact").text)
    assert len(page.find_all("header", **{"class": "site"})) == 1
    assert page.find_all("body")[0].attr("class") is None
    tel_988 = [a for a in page.find_all("a") if a.attr("href") == "tel:988"]
    assert tel_988 and all(a.attr("target") is None for a in tel_988)


@pytest.mark.parametrize("path", EMBED_PAGES)
def test_an_embedded_post_without_cookies_makes_exactly_one_lead(
    embed_app: Flask, path: str
) -> None:
    page = cookieless_page(embed_app, path)
    data = filled(page, path)

    response = send(embed_app, path, data)
    again = send(embed_app, path, data)  # a double click, or a reload of the thank-you page

    assert response.status_code == 200
    assert again.status_code == 200
    assert "Set-Cookie" not in response.headers
    thanks = Page(response.text)
    assert "we have your request" in thanks.text()
    assert "data-intake-submitted" in thanks.find_all("body")[0].attrs
    assert stored(embed_app) == (1, 1, 1)
    with database(embed_app).session() as session:
        lead = session.query(Lead).one()
        assert (lead.status, lead.first_name) == ("new", "Jane")


def test_an_urgent_embedded_post_puts_988_and_911_first(embed_app: Flask) -> None:
    page = cookieless_page(embed_app, "/embed/contact")
    data = filled(page, "/embed/contact", message="I want to end my life tonight.")

    response = send(embed_app, "/embed/contact", data)

    assert response.status_code == 200
    thanks = Page(response.text)
    assert thanks.by_id("crisis-title")
    buttons = [a.attr("href") for a in thanks.find_all("a") if "button" in (a.attr("class") or "")]
    assert buttons[:2] == ["tel:911", "tel:988"]


def _foreign_token(app: Flask, page: Page, path: str) -> dict[str, str]:
    submission = page.value("submission_token") or ""
    secret = app.extensions["intake.settings"].secret_key
    this_form = "tms_screen" if path.endswith("tms") else "contact"
    other_form = "contact" if this_form == "tms_screen" else "tms_screen"
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=embed_csrf.MAX_AGE_SECONDS + 60)
    return {
        "missing": "",
        "garbage": "not-a-token",
        "signed with another key": embed_csrf.make("another-key-0123456789", this_form, submission),
        "for the other form": embed_csrf.make(secret, other_form, submission),
        "for another page": embed_csrf.make(secret, "contact", str(uuid.uuid4())),
        "expired": embed_csrf.make(secret, this_form, submission, now=long_ago),
    }


@pytest.mark.parametrize("path", EMBED_PAGES)
def test_a_post_without_a_valid_token_is_refused_and_stores_nothing(
    embed_app: Flask, path: str
) -> None:
    page = cookieless_page(embed_app, path)
    for case, token in _foreign_token(embed_app, page, path).items():
        data = filled(page, path, embed_token=token, message="Please call after six.")

        response = send(embed_app, path, data)

        assert response.status_code == 400, case
        given_back = Page(response.text)
        assert CSRF_EXPIRED in given_back.text(), case
        assert given_back.value("message") == "Please call after six.", case
        assert stored(embed_app) == (0, 0, 0), case

    # The page given back carries a fresh token: pressing Send again works.
    again = {**data, "embed_token": given_back.value("embed_token")}
    assert send(embed_app, path, again).status_code == 200
    assert stored(embed_app) == (1, 1, 1)


@pytest.mark.parametrize("origin", ["https://evil.example", SITE, "null"])
def test_a_post_from_another_sites_page_is_refused_even_with_a_token(
    embed_app: Flask, origin: str
) -> None:
    # A token scraped from our page and posted by a page elsewhere (even the clinic's own: the
    # form in the frame is this site's page, never theirs).
    page = cookieless_page(embed_app, "/embed/contact")

    response = send(embed_app, "/embed/contact", filled(page, "/embed/contact"), origin=origin)

    assert response.status_code == 400
    assert NOT_A_FORM_POST in Page(response.text).text()
    assert stored(embed_app) == (0, 0, 0)


def test_behind_a_proxy_the_public_address_is_this_site(make_app: Callable[..., Flask]) -> None:
    app = make_app(**ENV, PUBLIC_BASE_URL="https://intake.sunrise.example")
    page = cookieless_page(app, "/embed/contact")

    response = send(
        app,
        "/embed/contact",
        filled(page, "/embed/contact"),
        origin="https://intake.sunrise.example",
    )

    assert response.status_code == 200
    assert stored(app) == (1, 1, 1)


def test_an_embedded_form_with_errors_comes_back_inside_the_frame(embed_app: Flask) -> None:
    page = cookieless_page(embed_app, "/embed/contact")
    data = filled(page, "/embed/contact", first_name="", email="", phone="")

    response = send(embed_app, "/embed/contact", data)

    assert response.status_code == 422
    again = Page(response.text)
    assert again.find_all("body")[0].attr("class") == "embedded"
    assert "Enter your first name." in again.text()
    assert again.value("embed_token")
    assert again.value("submission_token") == data["submission_token"]
    assert stored(embed_app) == (0, 0, 0)


def test_a_bot_filling_the_honeypot_in_the_frame_is_filed_as_spam(embed_app: Flask) -> None:
    page = cookieless_page(embed_app, "/embed/contact")
    data = filled(page, "/embed/contact", website="http://casino.example")

    response = send(embed_app, "/embed/contact", data)

    assert response.status_code == 200  # the bot sees the ordinary thank-you page
    with database(embed_app).session() as session:
        lead = session.query(Lead).one()
        assert (lead.status, lead.spam_reasons) == ("spam", ["honeypot"])


def test_the_embedded_forms_share_the_sites_rate_limit(make_app: Callable[..., Flask]) -> None:
    app = make_app(**ENV, APP_ENV="development", RATELIMIT_SUBMISSIONS="2 per minute")
    statuses = []
    for path in ("/embed/contact", "/embed/screening/tms", "/embed/contact"):
        page = cookieless_page(app, path)
        statuses.append(send(app, path, filled(page, path)).status_code)

    assert statuses == [200, 200, 429]


def test_an_embedded_page_in_spanish_sets_no_cookie_and_posts_in_spanish(
    embed_app: Flask,
) -> None:
    page = cookieless_page(embed_app, "/embed/contact?lang=es")
    assert page.find_all("html")[0].attr("lang") == "es"
    switch = [a for a in page.find_all("a") if a.attr("class") == "lang"]
    assert switch[0].attr("href") == "/embed/contact?lang=en"

    response = send(embed_app, "/embed/contact?lang=es", filled(page, "/embed/contact"))

    assert response.status_code == 200
    assert Page(response.text).find_all("html")[0].attr("lang") == "es"
    with database(embed_app).session() as session:
        assert session.query(Lead).one().locale == "es"


@pytest.mark.parametrize(("carried", "given_back"), [(SITE, SITE), ("https://evil.example", None)])
def test_the_parent_origin_passed_on_comes_back_only_if_it_is_allowed(
    embed_app: Flask, carried: str, given_back: str | None
) -> None:
    # Browsers without location.ancestorOrigins lose the clinic's origin from document.referrer
    # once the form is posted; embed.js passes it on, and the list decides.
    page = cookieless_page(embed_app, "/embed/contact")
    data = filled(page, "/embed/contact", parent_origin=carried)

    thanks = Page(send(embed_app, "/embed/contact", data).text)
    switched = cookieless_page(embed_app, f"/embed/contact?lang=es&parent_origin={carried}")

    assert thanks.find_all("body")[0].attr("data-parent-origin") == given_back
    assert switched.find_all("body")[0].attr("data-parent-origin") == given_back


def test_the_per_contact_cap_gives_the_embedded_form_back_as_typed(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(**{**ENV, "SUBMISSIONS_PER_CONTACT_PER_HOUR": "1", "DUPLICATE_WINDOW_DAYS": "0"})
    path = "/embed/contact"
    assert send(app, path, filled(cookieless_page(app, path), path)).status_code == 200

    response = send(app, path, filled(cookieless_page(app, path), path, first_name="Janet"))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "several forms" in response.text and 'value="Janet"' in response.text
    assert stored(app) == (1, 1, 1)
