"""Contact details: phones normalised to E.164, email addresses checked for syntax only."""

from __future__ import annotations

from typing import Any

import dns.resolver
import pytest

from intake_service.domain.intake.contact import (
    InvalidContact,
    display_phone,
    normalize_email,
    normalize_phone,
)

# --- phones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "(213) 373-4253",
        "213-373-4253",
        "213.373.4253",
        "2133734253",
        "1 213 373 4253",
        "+1 (213) 373-4253",
        "  213 373 4253  ",
    ],
)
def test_us_number_in_any_usual_format_becomes_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+12133734253"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+44 20 7946 0018", "+442079460018"),  # London landline
        ("+44 7911 123456", "+447911123456"),  # UK mobile
        ("011 44 20 7946 0018", "+442079460018"),  # dialled from the US
    ],
)
def test_uk_number_with_its_country_code_becomes_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


def test_uk_number_without_country_code_is_read_as_us_and_refused() -> None:
    with pytest.raises(InvalidContact):
        normalize_phone("07911 123456")


@pytest.mark.parametrize("raw", ["call me", "two one three", "2I3-373-4253", "n/a"])
def test_letters_instead_of_a_number_are_refused_with_an_example(raw: str) -> None:
    with pytest.raises(InvalidContact, match=r"such as \(310\) 555-0123"):
        normalize_phone(raw)


def test_input_longer_than_40_characters_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidContact, match="at most 40 characters"):
        normalize_phone("213 373 4253" + " " * 20 + "0" * 20)


@pytest.mark.parametrize(
    "raw",
    [
        "(111) 373-4253",  # no area code starts with 1
        "(999) 373-4253",  # unassigned area code
        "(555) 555-0123",  # 555 is not an area code
        "213-373-42534",  # one digit too many
        "373-4253",  # no area code at all
    ],
)
def test_number_that_cannot_exist_is_refused_naming_area_code_and_digits(raw: str) -> None:
    with pytest.raises(InvalidContact, match="area code and digits"):
        normalize_phone(raw)


def test_e164_number_is_shown_the_way_its_country_writes_it() -> None:
    assert display_phone("+12133734253") == "(213) 373-4253"
    assert display_phone("+442079460018") == "020 7946 0018"


# --- email ---------------------------------------------------------------------------------


def test_email_domain_is_lower_cased_and_surrounding_space_trimmed() -> None:
    assert normalize_email("  Jane.Doe@Patients.EXAMPLE.com ") == "Jane.Doe@patients.example.com"


@pytest.mark.parametrize(
    "raw",
    [
        "jane",
        "jane@",
        "@example.com",
        "jane@@example.com",
        "jane doe@example.com",
        "jane@example",
        "jane@exa_mple.com",
        "jane@example.com\nBcc: someone@example.com",  # header injection
    ],
)
def test_malformed_email_is_refused(raw: str) -> None:
    with pytest.raises(InvalidContact, match=r"email address|@"):
        normalize_email(raw)


def test_email_check_never_asks_dns_even_for_a_domain_that_does_not_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookups: list[Any] = []

    def record_lookup(self: dns.resolver.Resolver, *args: Any, **kwargs: Any) -> Any:
        lookups.append(args)
        raise dns.resolver.NXDOMAIN

    monkeypatch.setattr(dns.resolver.Resolver, "resolve", record_lookup)

    assert normalize_email("jane@no-such-host-7f3a9c.com") == "jane@no-such-host-7f3a9c.com"
    assert lookups == []
