"""The public forms through the Flask test client: what is stored, what is shown, what is kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from intake_service.db import Database
from intake_service.domain.compliance.consent import CURRENT_SMS_WORDING, SMS_WORDINGS
from intake_service.domain.intake.answers import TMS_ITEMS
from intake_service.models import ConsentEvent, Lead, OutboxEvent, Submission
from intake_service.web.public.pages import CSRF_EXPIRED, THANK_YOU_SESSION_KEY

VOID = {"input", "br", "meta", "link", "img", "hr", "source", "area", "base", "col", "wbr"}
FORM_PAGES = ("/contact", "/screening/tms")
UA = "TestBrowser/1.0 (intake tests)"
IP = "203.0.113.7"


# --- a small HTML reader: enough DOM to check labels, attributes and text ---------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    ancestors: list[Element]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def attr(self, name: str) -> str | None:
        return self.attrs.get(name)


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, list(self._open))
        if self._open:
            self._open[-1].children.append(element)
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for position in range(len(self._open) - 1, -1, -1):
            if self._open[position].tag == tag:
                del self._open[position:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def by_id(self, element_id: str) -> Element:
        found = [e for e in self.elements if e.attrs.get("id") == element_id]
        assert len(found) == 1, f"expected one element with id {element_id!r}, found {len(found)}"
        return found[0]

    def find_all(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag and all(e.attrs.get(k) == v for k, v in attrs.items())
        ]

    def value(self, name: str) -> str | None:
        for element in self.elements:
            if element.attrs.get("name") == name:
                if element.tag == "textarea":
                    # HTML drops one newline (CRLF counts as one) right after <textarea>.
                    return element.text.removeprefix("\r\n").removeprefix("\n")
                return element.attrs.get("value")
        raise AssertionError(f"no field named {name!r}")

    def checked(self, name: str) -> list[str]:
        return [
            e.attrs.get("value", "")
            for e in self.elements
            if e.attrs.get("name") == name and "checked" in e.attrs
        ]

    def text(self) -> str:
        body = self.find_all("body")
        return " ".join(body[0].text.split()) if body else ""


def error_for(page: Page, field_id: str) -> str:
    """The error text tied to a field, checking that the field points at it."""
    target = page.by_id(field_id)
    described = (target.attr("aria-describedby") or "").split()
    assert f"{field_id}-error" in described, f"{field_id} does not point at its error"
    if target.tag != "fieldset":
        assert target.attr("aria-invalid") == "true"
    return " ".join(page.by_id(f"{field_id}-error").text.split())


# --- fixtures and helpers -------------------------------------------------------------------


def contact_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "Jane.Doe@Example.com",
        "phone": "(310) 555-0123",
        "treatment_interest": "ketamine",
        "callback_window": "evening",
        "message": "I would like to know more about infusions.",
        "sms_consent": "y",
        "sms_wording_version": CURRENT_SMS_WORDING,
        "how_heard": "search",
        "submission_token": str(uuid.uuid4()),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def tms_data(**overrides: Any) -> dict[str, Any]:
    answers = {
        "struggles_with_depression_ocd_anxiety": "yes",
        "has_symptoms": "yes",
        "tried_antidepressants": "yes",
        "tried_talk_therapy": "no",
        "doctor_suggested_tms": "no",
    }
    return contact_data(**{"treatment_interest": "tms", **answers, **overrides})


def count(db: Database, model: type[Any]) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def post(client: Any, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
    return client.post(
        path,
        data=data,
        headers={"User-Agent": UA, **kwargs.pop("headers", {})},
        environ_base={"REMOTE_ADDR": IP},
        **kwargs,
    )


@pytest.fixture
def backend_app(make_app: Callable[..., Flask], backend_url: str) -> Flask:
    """The app on SQLite, then on PostgreSQL, with CSRF off."""
    application = make_app(DATABASE_URL=backend_url)
    application.config["WTF_CSRF_ENABLED"] = False
    return application


# --- storing ----------------------------------------------------------------------------------


def test_contact_form_stores_one_lead_submission_consent_and_outbox_event(
    backend_app: Flask,
) -> None:
    db: Database = backend_app.extensions["intake.db"]
    client = backend_app.test_client()
    referrer = "http://127.0.0.1:5000/contact?utm_source=google"
    response = post(
        client,
        "/contact?utm_source=google&utm_campaign=fall",
        contact_data(),
        headers={"Referer": referrer},
    )

    assert response.status_code == 303
    with db.session() as session:
        lead = session.scalars(select(Lead)).one()
        submission = session.scalars(select(Submission)).one()
        sms = session.scalars(select(ConsentEvent).where(ConsentEvent.channel == "sms")).one()
        events = session.scalars(select(OutboxEvent)).all()
    assert response.headers["Location"] == f"/thank-you/{submission.id}"
    assert (lead.first_name, lead.last_name) == ("Jane", "Doe")
    assert lead.phone == "+13105550123"
    assert lead.email == "Jane.Doe@example.com"
    assert (lead.treatment_interest, lead.callback_window) == ("ketamine", "evening")
    assert lead.source == {
        "page": referrer,
        "how_heard": "search",
        "utm_source": "google",
        "utm_campaign": "fall",
    }
    assert submission.form == "contact"
    assert submission.via == "web"
    assert submission.message == "I would like to know more about infusions."
    assert submission.answers is None
    assert sms.lead_id == lead.id
    assert sms.action == "opt_in"
    assert sms.wording_version == CURRENT_SMS_WORDING
    assert sms.wording == SMS_WORDINGS[CURRENT_SMS_WORDING]
    assert (sms.ip, sms.user_agent, sms.source) == (IP, UA, "web_form")
    assert [event.lead_id for event in events] == [lead.id]


def test_unticked_sms_box_records_no_sms_consent(client: Any, db: Database) -> None:
    response = post(client, "/contact", contact_data(sms_consent=None))

    assert response.status_code == 303
    with db.session() as session:
        channels = session.scalars(select(ConsentEvent.channel)).all()
    assert "sms" not in channels
    assert count(db, Submission) == 1


def test_double_submit_with_same_token_makes_one_submission_and_same_thank_you(
    backend_app: Flask,
) -> None:
    db: Database = backend_app.extensions["intake.db"]
    client = backend_app.test_client()
    data = contact_data()

    first = post(client, "/contact", data)
    second = post(client, "/contact", data)

    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert (count(db, Lead), count(db, Submission), count(db, OutboxEvent)) == (1, 1, 1)


def test_form_changed_after_sending_is_stored_again_not_dropped(client: Any, db: Database) -> None:
    # Back button, edit, send: the same token with new words. The new words must reach a person.
    data = contact_data()
    first = post(client, "/contact", data)
    changed = {**data, "message": "Actually, please call me tonight."}
    second = post(client, "/contact", changed)
    again = post(client, "/contact", changed)

    assert first.headers["Location"] != second.headers["Location"]
    assert second.headers["Location"] == again.headers["Location"]
    with db.session() as session:
        messages = session.scalars(select(Submission.message)).all()
    assert sorted(messages) == sorted([data["message"], changed["message"]])


def test_post_without_token_is_still_accepted(client: Any, db: Database) -> None:
    response = post(client, "/contact", contact_data(submission_token=None))

    assert response.status_code == 303
    assert count(db, Submission) == 1


# --- errors beside fields, input kept -----------------------------------------------------------


def test_invalid_phone_shows_error_beside_phone_and_keeps_input(client: Any, db: Database) -> None:
    data = contact_data(phone="555-01", message="Line one\nLine two")
    response = post(client, "/contact", data)

    assert response.status_code == 422
    page = Page(response.text)
    assert "phone number" in error_for(page, "phone")
    assert page.value("phone") == "555-01"
    assert page.value("first_name") == "Jane"
    assert page.value("email") == data["email"]
    assert page.value("message") == "Line one\nLine two"
    assert page.checked("sms_consent") == ["y"]
    assert page.checked("callback_window") == ["evening"]
    assert page.value("submission_token") == data["submission_token"]
    assert count(db, Submission) == 0


def test_invalid_email_shows_error_beside_email(client: Any, db: Database) -> None:
    response = post(client, "/contact", contact_data(email="jane@@example"))

    assert response.status_code == 422
    page = Page(response.text)
    assert "@" in error_for(page, "email")
    assert page.value("email") == "jane@@example"
    assert count(db, Submission) == 0


def test_neither_email_nor_phone_asks_for_one_of_them(client: Any, db: Database) -> None:
    response = post(client, "/contact", contact_data(email="", phone="", sms_consent=None))

    assert response.status_code == 422
    page = Page(response.text)
    assert "email address or a phone number" in error_for(page, "email")
    assert page.value("first_name") == "Jane"
    assert count(db, Submission) == 0


def test_sms_ticked_without_phone_puts_the_error_on_phone(client: Any, db: Database) -> None:
    response = post(client, "/contact", contact_data(phone=""))

    assert response.status_code == 422
    page = Page(response.text)
    assert "phone number to receive texts" in error_for(page, "phone")
    assert page.checked("sms_consent") == ["y"]
    assert count(db, Submission) == 0


def test_ten_thousand_character_name_is_refused_not_a_server_error(
    client: Any, db: Database
) -> None:
    long_name = "A" * 10_000
    response = post(client, "/contact", contact_data(first_name=long_name))

    assert response.status_code == 422
    page = Page(response.text)
    assert "at most 100 characters" in error_for(page, "first_name")
    assert page.value("first_name") == long_name
    assert count(db, Submission) == 0


def test_unknown_choices_are_refused_beside_their_fields(client: Any) -> None:
    response = post(
        client, "/contact", contact_data(treatment_interest="surgery", callback_window="night")
    )

    assert response.status_code == 422
    page = Page(response.text)
    assert error_for(page, "treatment_interest")
    assert error_for(page, "callback_window")


@pytest.mark.parametrize("path", FORM_PAGES)
def test_markup_in_every_field_is_escaped_when_the_form_comes_back(client: Any, path: str) -> None:
    payload = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>&amp;"
    text_fields = ("first_name", "last_name", "email", "phone", "message")
    data = (tms_data if path != "/contact" else contact_data)(
        **dict.fromkeys(text_fields, payload),
        how_heard=payload,
        treatment_interest=payload,
        callback_window=payload,
        sms_wording_version=payload,
        submission_token=payload,
    )
    response = post(client, path, data)

    assert response.status_code == 422
    assert "<script>alert(1)" not in response.text
    assert "<img src=x" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    page = Page(response.text)
    for name in text_fields:
        assert page.value(name) == payload  # round-trips as text, not as markup
    # Only the service's own scripts, loaded from its static files; nothing typed runs.
    assert all(
        (e.attr("src") or "").startswith("/static/") and not e.text for e in page.find_all("script")
    )
    assert not page.find_all("img")


def test_markup_in_the_message_never_reaches_the_thank_you_page(client: Any) -> None:
    response = post(
        client, "/contact", contact_data(first_name="Zed", message="<script>x()</script>")
    )
    thank_you = client.get(response.headers["Location"])

    assert "Zed" not in thank_you.text
    assert "x()" not in thank_you.text


# --- the TMS self-screen ------------------------------------------------------------------------


def test_tms_screen_stores_answers_as_booleans_keyed_by_item(backend_app: Flask) -> None:
    db: Database = backend_app.extensions["intake.db"]
    response = post(backend_app.test_client(), "/screening/tms", tms_data())

    assert response.status_code == 303
    with db.session() as session:
        submission = session.scalars(select(Submission)).one()
        lead = session.scalars(select(Lead)).one()
    assert submission.form == "tms_screen"
    assert submission.answers == {
        "struggles_with_depression_ocd_anxiety": True,
        "has_symptoms": True,
        "tried_antidepressants": True,
        "tried_talk_therapy": False,
        "doctor_suggested_tms": False,
    }
    assert set(submission.answers) == set(TMS_ITEMS)
    assert lead.treatment_interest == "tms"


def test_tms_screen_requires_every_item(client: Any, db: Database) -> None:
    data = tms_data()
    del data["tried_antidepressants"]
    data["doctor_suggested_tms"] = "maybe"
    response = post(client, "/screening/tms", data)

    assert response.status_code == 422
    page = Page(response.text)
    assert error_for(page, "tried_antidepressants") == "Error: Answer yes or no."
    assert error_for(page, "doctor_suggested_tms") == "Error: Answer yes or no."
    assert page.checked("struggles_with_depression_ocd_anxiety") == ["yes"]
    assert page.checked("tried_talk_therapy") == ["no"]
    assert page.value("first_name") == "Jane"
    assert count(db, Submission) == 0


def test_tms_screen_preselects_tms_as_the_treatment(client: Any) -> None:
    page = Page(client.get("/screening/tms").text)

    selected = [e for e in page.find_all("option") if "selected" in e.attrs]
    assert [
        e.attr("value") for e in selected if e.ancestors[-1].attr("name") == "treatment_interest"
    ] == ["tms"]


# --- the thank-you page -------------------------------------------------------------------------


def test_thank_you_page_shows_the_thank_you_sentence_and_no_answers(client: Any) -> None:
    data = tms_data(first_name="Zelda", message="nobody else should read these words")
    response = post(client, "/screening/tms", data)
    page = client.get(response.headers["Location"])

    assert page.status_code == 200
    text = Page(page.text).text()
    assert "We'll call you within one business day." in text
    for private in ("Zelda", "Doe", "these words", "555-0123", "Jane.Doe", *TMS_ITEMS.values()):
        assert private not in text
    assert not page_has_crisis_block(page.text)


def page_has_crisis_block(html: str) -> bool:
    return any(e.attr("id") == "crisis-title" for e in Page(html).elements)


def test_urgent_thank_you_puts_988_and_911_first(client: Any) -> None:
    response = post(client, "/contact", contact_data())
    location = response.headers["Location"]
    with client.session_transaction() as session:
        # Triage decides urgency; here the session says what submit() answered.
        session[THANK_YOU_SESSION_KEY] = {"id": location.rsplit("/", 1)[1], "urgent": True}

    page = Page(client.get(location).text)
    crisis = page.by_id("crisis-title").ancestors[-1]
    assert "call 911 now" in crisis.text
    assert "988" in crisis.text
    hrefs = {a.attr("href") for a in page.find_all("a")}
    assert {"tel:911", "tel:988", "sms:988"} <= hrefs


def test_someone_else_opening_a_thank_you_address_learns_nothing(client: Any, app: Flask) -> None:
    response = post(client, "/contact", contact_data())
    location = response.headers["Location"]
    with client.session_transaction() as session:
        session[THANK_YOU_SESSION_KEY] = {"id": location.rsplit("/", 1)[1], "urgent": True}

    stranger = app.test_client().get(location)
    assert stranger.status_code == 200
    assert not page_has_crisis_block(stranger.text)
    assert "Thank you, we have your request" in Page(stranger.text).text()


# --- the pages themselves -----------------------------------------------------------------------


def test_root_redirects_to_the_contact_form(client: Any) -> None:
    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/contact"


@pytest.mark.parametrize("path", FORM_PAGES)
def test_every_input_has_a_label_and_radios_sit_in_a_fieldset_with_legend(
    client: Any, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    page = Page(response.text)
    labelled = {label.attr("for") for label in page.find_all("label")}
    controls = [
        e
        for e in page.elements
        if e.tag in ("input", "select", "textarea") and e.attr("type") not in ("hidden", "submit")
    ]
    assert controls
    for control in controls:
        assert control.attr("id") in labelled, f"{control.attr('name')} has no label"
        if control.attr("type") == "radio":
            fieldset = [a for a in control.ancestors if a.tag == "fieldset"]
            assert fieldset, f"radio {control.attr('id')} is not in a fieldset"
            assert any(child.tag == "legend" for child in fieldset[-1].children)
    assert page.find_all("html")[0].attr("lang") == "en"


@pytest.mark.parametrize("path", FORM_PAGES)
def test_form_page_helps_autofill_and_shows_the_sms_wording_unticked(
    client: Any, path: str
) -> None:
    page = Page(client.get(path).text)

    autocomplete = {
        name: page.find_all("input", name=name)[0].attr("autocomplete")
        for name in ("first_name", "last_name", "email", "phone")
    }
    assert autocomplete == {
        "first_name": "given-name",
        "last_name": "family-name",
        "email": "email",
        "phone": "tel",
    }
    assert page.find_all("input", name="phone")[0].attr("type") == "tel"
    assert page.checked("sms_consent") == []
    label = next(e for e in page.find_all("label") if e.attr("for") == "sms_consent")
    assert " ".join(label.text.split()) == SMS_WORDINGS[CURRENT_SMS_WORDING]
    assert page.value("sms_wording_version") == CURRENT_SMS_WORDING
    assert uuid.UUID(page.value("submission_token") or "")
    assert "In crisis? Call or text 988 (Suicide & Crisis Lifeline). In an emergency call 911." in (
        page.text()
    )


def test_a_link_can_preselect_the_treatment(client: Any) -> None:
    page = Page(client.get("/contact?treatment=spravato").text)

    selected = [e.attr("value") for e in page.find_all("option") if "selected" in e.attrs]
    assert "spravato" in selected


def test_each_get_makes_a_fresh_submission_token(client: Any) -> None:
    first = Page(client.get("/contact").text).value("submission_token")
    second = Page(client.get("/contact").text).value("submission_token")

    assert first != second


# --- with CSRF protection on, as in production ------------------------------------------------


@pytest.fixture
def csrf_app(make_app: Callable[..., Flask]) -> Flask:
    application = make_app()
    assert application.config.get("WTF_CSRF_ENABLED", True)
    return application


def test_form_with_scraped_csrf_token_is_accepted(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    page = Page(client.get("/contact").text)
    data = contact_data(
        csrf_token=page.value("csrf_token"), submission_token=page.value("submission_token")
    )

    response = post(client, "/contact", data)

    assert response.status_code == 303
    assert count(csrf_app.extensions["intake.db"], Submission) == 1


@pytest.mark.parametrize("path", FORM_PAGES)
def test_expired_csrf_token_gives_the_form_back_as_typed(csrf_app: Flask, path: str) -> None:
    client = csrf_app.test_client()
    client.get(path)
    data = (tms_data if path != "/contact" else contact_data)(
        csrf_token="stale", message="Please call after six."
    )

    response = post(client, path, data)

    assert response.status_code == 400
    page = Page(response.text)
    assert CSRF_EXPIRED in page.text()
    assert page.value("first_name") == "Jane"
    assert page.value("message") == "Please call after six."
    assert page.checked("sms_consent") == ["y"]
    assert count(csrf_app.extensions["intake.db"], Submission) == 0

    # Sending it again from that page works: it carries a fresh token.
    again = {**data, "csrf_token": page.value("csrf_token")}
    assert post(client, path, again).status_code == 303


def test_lost_session_cookie_is_a_csrf_failure_with_input_kept(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    token = Page(client.get("/contact").text).value("csrf_token")
    client.delete_cookie("session")  # the browser was closed: the session cookie is gone

    response = post(client, "/contact", contact_data(csrf_token=token))

    assert response.status_code == 400
    assert CSRF_EXPIRED in Page(response.text).text()
    assert Page(response.text).value("last_name") == "Doe"


def test_submissions_are_rate_limited(make_app: Callable[..., Flask]) -> None:
    application = make_app(APP_ENV="development", RATELIMIT_SUBMISSIONS="2 per minute")
    application.config["WTF_CSRF_ENABLED"] = False
    client = application.test_client()

    statuses = [post(client, "/contact", contact_data()).status_code for _ in range(3)]

    assert statuses == [303, 303, 429]
    assert client.get("/contact").status_code == 200  # reading the form is never limited
