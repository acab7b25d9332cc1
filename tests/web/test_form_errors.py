"""Every error in one round, in the service's own words, each tied to its field."""

from __future__ import annotations

from typing import Any

import pytest

from intake_service.domain.intake import contact
from intake_service.domain.intake.answers import TMS_ITEMS
from tests.web.test_forms import Page, error_for, post

CONTACT_ERROR_FIELDS = {"first_name", "email"}


def summary_links(page: Page) -> dict[str, str]:
    """The error summary's links: target id -> link text."""
    summary = [e for e in page.elements if "data-error-summary" in e.attrs]
    assert len(summary) == 1
    assert summary[0].attr("tabindex") == "-1"
    assert "autofocus" in summary[0].attrs
    links = [e for e in page.find_all("a") if summary[0] in e.ancestors]
    return {(a.attr("href") or "").removeprefix("#"): " ".join(a.text.split()) for a in links}


def test_empty_contact_form_shows_every_error_at_once(client: Any) -> None:
    response = post(client, "/contact", {"callback_window": "any"})

    assert response.status_code == 422
    page = Page(response.text)
    links = summary_links(page)
    assert set(links) == CONTACT_ERROR_FIELDS
    assert error_for(page, "first_name") == "Error: Enter your first name."
    assert "email address or a phone number" in error_for(page, "email")


def test_bad_email_and_ticked_texts_without_phone_show_together(client: Any) -> None:
    response = post(
        client,
        "/contact",
        {"first_name": "", "email": "jane@", "sms_consent": "y", "callback_window": "any"},
    )

    page = Page(response.text)
    assert set(summary_links(page)) == {"first_name", "email", "phone"}
    assert error_for(page, "email") == f"Error: {contact.EMAIL_NOTHING_AFTER}"
    assert "phone number to receive texts" in error_for(page, "phone")
    assert page.value("email") == "jane@"
    assert page.checked("sms_consent") == ["y"]


def test_an_invalid_phone_is_not_also_told_to_give_an_email_or_phone(client: Any) -> None:
    response = post(client, "/contact", {"first_name": "Jane", "phone": "555-01"})

    page = Page(response.text)
    assert set(summary_links(page)) == {"phone"}


def test_empty_tms_screen_lists_every_item_with_its_whole_label(client: Any) -> None:
    response = post(client, "/screening/tms", {"callback_window": "any"})

    assert response.status_code == 422
    page = Page(response.text)
    links = summary_links(page)
    assert set(links) == {f"{key}-0" for key in TMS_ITEMS} | CONTACT_ERROR_FIELDS
    for key, label in TMS_ITEMS.items():
        assert links[f"{key}-0"] == f"{label} Answer yes or no."
    assert ".:" not in response.text
    assert links["first_name"] == "First name: Enter your first name."


@pytest.mark.parametrize(("path", "items"), [("/screening/phq9", 9), ("/screening/gad7", 7)])
def test_empty_questionnaire_lists_every_item_and_contact_error(
    client: Any, path: str, items: int
) -> None:
    response = post(client, path, {"callback_window": "any"})

    assert response.status_code == 422
    links = summary_links(Page(response.text))
    assert set(links) == {f"item_{n}-0" for n in range(1, items + 1)} | CONTACT_ERROR_FIELDS


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("jane", contact.EMAIL_NO_AT),
        ("jane@@example.com", contact.EMAIL_TWO_ATS),
        ("@example.com", contact.EMAIL_NOTHING_BEFORE),
        ("jane@", contact.EMAIL_NOTHING_AFTER),
        ("jane doe@example.com", contact.EMAIL_SPACES),
        ("jane@example", contact.EMAIL_BAD_DOMAIN),
        ("jane..doe@example.com", contact.EMAIL_GENERAL),
    ],
)
def test_email_errors_are_our_own_sentences(typed: str, sentence: str) -> None:
    with pytest.raises(contact.InvalidContact) as raised:
        contact.normalize_email(typed)
    assert str(raised.value) == sentence
    assert "@-sign" not in str(raised.value)


def test_invalid_fields_are_drawn_red_over_the_type_rule(client: Any) -> None:
    # The rule for invalid fields must come after, and be as specific as, input[type=tel].
    css = client.get("/contact").text
    assert css.index("input[aria-invalid=true]") > css.index("input[type=tel]")


def test_the_focus_script_is_served(client: Any) -> None:
    response = client.get("/static/public/forms.js")
    assert response.status_code == 200
    assert "data-error-summary" in response.text
