"""The intake rules both doors share: labels, names, addresses, user agents, source, wording."""

from __future__ import annotations

import pytest

from intake_service.domain.intake import rules
from intake_service.models.lead import CALLBACK_WINDOWS, FORMS, TREATMENTS

# --- vocabulary ------------------------------------------------------------------------------


def test_labels_cover_exactly_the_stored_vocabulary() -> None:
    assert tuple(rules.TREATMENT_LABELS) == TREATMENTS
    assert tuple(rules.CALLBACK_WINDOW_LABELS) == CALLBACK_WINDOWS
    assert tuple(rules.CALLBACK_WINDOW_PHRASES) == CALLBACK_WINDOWS
    assert tuple(rules.FORM_LABELS) == FORMS


def test_the_tms_self_screen_means_tms_unless_told_otherwise() -> None:
    assert rules.default_treatment("tms_screen") == "tms"
    assert {rules.default_treatment(form) for form in ("contact", "phq9", "gad7")} == {"unsure"}


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "José",
        "Jose\u0301",  # the same, with a combining accent
        "O'Brien",
        "O\u2019Brien",  # the apostrophe phones type
        "Nguyễn",
        "Anne-Marie",
        "St. John",
        "J.R.R. Tolkien",
        "Zoë",
        "李小龙",
        "مريم",
        "\u05d2\u05f3\u05d5\u05df",  # Hebrew with a geresh
        "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627",  # Persian, a zero-width non-joiner inside
        "ジョン・スミス",
        "山田\u3000太郎",
        "Henry VIII",
        "Marcel\u00b7l\u00ed",
    ],
)
def test_names_in_any_script_with_their_usual_marks_are_accepted(name: str) -> None:
    assert rules.name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("evil.example", rules.NAME_NOT_AN_ADDRESS),
        ("Jane bit.ly/x", rules.NAME_NOT_AN_ADDRESS),
        ("https://clinic.example", rules.NAME_NOT_AN_ADDRESS),
        ("www.evil", rules.NAME_NOT_AN_ADDRESS),
        ("WWW.EVIL.COM", rules.NAME_NOT_AN_ADDRESS),
        ("Smith.Jones", rules.NAME_NOT_AN_ADDRESS),
        ("evil.c\u0301om", rules.NAME_NOT_AN_ADDRESS),  # an accent does not hide a domain
        ("пример.рф", rules.NAME_NOT_AN_ADDRESS),
        ("Jane\u202eenaJ", rules.NAME_INVISIBLE),  # right-to-left override
        ("Jane\u2066x\u2069", rules.NAME_INVISIBLE),  # bidi isolates
        ("Jane\u0085", rules.NAME_INVISIBLE),  # C1 control (next line)
        ("Ja\tne", rules.NAME_INVISIBLE),
        ("Ja\x00ne", rules.NAME_INVISIBLE),
        ("Jane\u2028Doe", rules.NAME_INVISIBLE),
        ("\u200dJane", rules.NAME_INVISIBLE),  # a joiner that joins nothing
        ("Ja\ud800ne", rules.NAME_INVISIBLE),  # a lone surrogate
        ("Jane2", rules.NAME_CHARACTERS),
        ("Jane \U0001f33b", rules.NAME_CHARACTERS),
        ("<b>Jane</b>", rules.NAME_CHARACTERS),
        ("Jane & John", rules.NAME_CHARACTERS),
        ("Jane@clinic", rules.NAME_CHARACTERS),
        ("...", rules.NAME_NO_LETTERS),
        ("- '", rules.NAME_NO_LETTERS),
    ],
)
def test_names_that_could_carry_links_or_hide_text_are_refused(name: str, sentence: str) -> None:
    assert rules.name_problem(name) == sentence


def test_every_name_sentence_is_a_sentence() -> None:
    sentences = (
        rules.NAME_NOT_AN_ADDRESS,
        rules.NAME_INVISIBLE,
        rules.NAME_CHARACTERS,
        rules.NAME_NO_LETTERS,
    )
    assert all(s[0].isupper() and s.endswith(".") for s in sentences)


# --- the client's address and user agent -------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::1", "::1"),
        ("x" * 80, None),
        ("203.0.113.7, 198.51.100.1", None),
        ("not an address", None),
        ("fe80::1%" + "e" * 80, None),  # a zone id too long for the column
        ("", None),
        (None, None),
    ],
)
def test_client_addresses_are_normalised_or_dropped(raw: str | None, stored: str | None) -> None:
    assert rules.client_ip(raw) == stored


def test_user_agent_keeps_printable_text_up_to_the_cap() -> None:
    assert rules.user_agent("Mozilla/5.0\x00 (X11)\x1b") == "Mozilla/5.0 (X11)"
    assert rules.user_agent("a" * 2000) == "a" * rules.MAX_USER_AGENT_CHARS
    assert rules.user_agent("  ") is None
    assert rules.user_agent(None) is None


# --- source ----------------------------------------------------------------------------------


def test_source_over_the_key_or_byte_caps_is_a_problem() -> None:
    assert rules.source_problem({f"k{i}": "v" for i in range(rules.MAX_SOURCE_KEYS)}) is None
    assert rules.source_problem({f"k{i}": "v" for i in range(rules.MAX_SOURCE_KEYS + 1)})
    at_cap = {"page": "p" * (rules.MAX_SOURCE_BYTES - 4)}
    assert rules.source_size(at_cap) == rules.MAX_SOURCE_BYTES
    assert rules.source_problem(at_cap) is None
    assert rules.source_problem({"page": "p" * (rules.MAX_SOURCE_BYTES - 3)})
    assert rules.source_problem({"page": "é" * 1100}) is not None  # bytes, not characters


def test_fit_source_cuts_what_a_browser_sent_down_to_the_caps() -> None:
    pairs = [("page", "p" * 5000), ("utm_source", "ad\x00words"), ("utm_term", "")]
    pairs += [(f"utm_{i}", "x" * 900) for i in range(30)]

    source = rules.fit_source(pairs)

    assert source["page"] == "p" * rules.MAX_SOURCE_VALUE_CHARS
    assert source["utm_source"] == "adwords"
    assert "utm_term" not in source
    assert rules.source_problem(source) is None
    assert len(source) < len(pairs)


# --- crisis wording --------------------------------------------------------------------------


def test_every_crisis_sentence_names_988_and_911() -> None:
    for sentence in (
        rules.THANK_YOU,
        rules.CRISIS_MESSAGE,
        rules.NOT_FOR_EMERGENCIES,
        rules.FOOTER,
    ):
        assert "988" in sentence and "911" in sentence
    assert "call 911 now" in rules.CRISIS_MESSAGE
