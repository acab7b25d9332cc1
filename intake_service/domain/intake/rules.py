"""The rules of intake that both doors (web forms and JSON API) share: one source for each.

Labels for the stored vocabulary, length caps, which characters text and names may hold, the
size of `source`, the client details kept as consent evidence, and the crisis wording that
every page and every answer shows. The forms, the API schema and domain.intake.check all read
them from here, so the two doors cannot drift apart again.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping

# --- the vocabulary and its labels --------------------------------------------------------------
# Keys are what the database stores (models.lead names the same tuples; a test keeps them equal);
# labels are what people read on the forms and in the team's email.

TREATMENT_LABELS: dict[str, str] = {
    "ketamine": "IV ketamine",
    "spravato": "Spravato (esketamine)",
    "tms": "TMS",
    "psychiatry": "Psychiatry visit",
    "unsure": "Not sure yet",
}
CALLBACK_WINDOW_LABELS: dict[str, str] = {
    "morning": "Morning",
    "afternoon": "Afternoon",
    "evening": "Evening",
    "any": "Any time",
}
# How a sentence names the window: "we will call you in the evening"; "any" names no window.
CALLBACK_WINDOW_PHRASES: dict[str, str] = {
    "morning": "in the morning",
    "afternoon": "in the afternoon",
    "evening": "in the evening",
    "any": "",
}
FORM_LABELS: dict[str, str] = {
    "contact": "Contact form",
    "tms_screen": "TMS self-screen",
    "phq9": "PHQ-9 questionnaire",
    "gad7": "GAD-7 questionnaire",
}
# The languages the public pages and patient messages speak; English is the fallback.
LOCALES = ("en", "es")
DEFAULT_LOCALE = "en"
# Each language by its English name, for the staff and admin pages (staff read English).
LOCALE_NAMES = {"en": "English", "es": "Spanish"}
DEFAULT_TREATMENT = "unsure"
DEFAULT_CALLBACK_WINDOW = "any"
# A form about one treatment means that treatment when the person names none.
_FORM_TREATMENTS = {"tms_screen": "tms"}


def default_treatment(form: str) -> str:
    """The treatment of interest a submission of `form` has when none was chosen."""
    return _FORM_TREATMENTS.get(form, DEFAULT_TREATMENT)


# --- length caps (characters) --------------------------------------------------------------

MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 320  # RFC 3696's longest address
MAX_PHONE_CHARS = 40
MAX_MESSAGE_CHARS = 5000
# Proof of consent needs the browser's name, not 8 KB of header.
MAX_USER_AGENT_CHARS = 500
# `source` is attribution (page, utm_*): small, open-ended, and never worth a bloated lead row.
MAX_SOURCE_KEYS = 20
MAX_SOURCE_KEY_CHARS = 100
MAX_SOURCE_VALUE_CHARS = 1000
MAX_SOURCE_BYTES = 2048  # keys and values together, UTF-8

# --- characters ------------------------------------------------------------------------------

# C0 and C1 controls and DEL are never typed by a person; NUL cannot even be stored by
# PostgreSQL (unchecked it is a database error for what is bad input). Lone surrogates cannot
# be encoded as UTF-8 at all. Multi-line text keeps tab, newline and carriage return.
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
NOT_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
CONTROL_CHARACTERS = "Remove the invisible control characters from this text."


def strip_controls(value: str) -> str:
    """`value` without control characters: for what a browser sent on its own (headers, URLs)."""
    return NOT_LINE.sub("", value)


# --- names -----------------------------------------------------------------------------------
# A name goes verbatim into texts to the phone number typed and into the team's subject line:
# anything a phone or mail client would turn into a link, or that reorders the text around it
# (bidi overrides), lets a stranger make the clinic's number send their words. So a name holds
# letters and combining marks (any script), spaces, and the few marks names are written with.

# The ASCII apostrophe, the curly quotes phones type for it, and the Hebrew geresh.
_APOSTROPHES = "'\u2018\u2019\u05f3"
_HYPHENS = "-\u2010\u2011"  # the ASCII hyphen-minus, the hyphen, the non-breaking hyphen
# The period, the Catalan middle dot (l-dot-l in Marcel-li) and the katakana middle dot that
# separates the parts of a foreign name written in katakana.
_PERIODS = ".\u00b7\u30fb"
_NAME_PUNCTUATION = frozenset(_APOSTROPHES + _HYPHENS + _PERIODS)
# Zero-width (non-)joiners are part of the spelling in Persian and Indic scripts; between two
# letters they are harmless, elsewhere they only hide things.
_JOINERS = frozenset("\u200c\u200d")
# A letter, a dot, then two letters: the shape of a domain name (clinic.example, bit.ly), which
# phones make clickable. "St. John" (a space after the period) and initials ("J.R.") pass.
_DOMAIN_LIKE = re.compile(r"[^\W\d_]\.[^\W\d_]{2}")

NAME_CHARACTERS = (
    "Use only letters, spaces, apostrophes ('), hyphens (-) and periods (.) in a name."
)
NAME_NOT_AN_ADDRESS = "Enter a name, not a web address."
NAME_INVISIBLE = "Remove the invisible characters from this name."
NAME_NO_LETTERS = "Enter a name made of letters."


def name_problem(value: str) -> str | None:
    """Why `value` cannot be a person's name (a sentence for them), or None if it can.

    An empty value is no problem here: whether a name is required is the caller's rule.
    """
    if not value:
        return None
    letters = 0
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category[0] == "L":
            letters += 1
        elif category[0] == "M" or category == "Zs":
            continue
        elif char in _JOINERS:
            if not (_is_letter(value, position - 1) and _is_letter(value, position + 1)):
                return NAME_INVISIBLE
        elif category[0] == "C" or category in ("Zl", "Zp"):
            # Controls (tab, C1), formats (bidi overrides such as U+202E), surrogates,
            # unassigned code points, line and paragraph separators.
            return NAME_INVISIBLE
        elif char not in _NAME_PUNCTUATION:
            return NAME_NOT_AN_ADDRESS if _looks_like_address(value) else NAME_CHARACTERS
    if _looks_like_address(value):
        return NAME_NOT_AN_ADDRESS
    if letters == 0:
        return NAME_NO_LETTERS
    return None


def _is_letter(value: str, position: int) -> bool:
    return 0 <= position < len(value) and unicodedata.category(value[position])[0] in "LM"


def _looks_like_address(value: str) -> bool:
    # Compared without accents and compatibility forms, as a lenient link detector would.
    folded = "".join(
        char for char in unicodedata.normalize("NFKD", value) if not unicodedata.combining(char)
    ).casefold()
    return "://" in folded or "www." in folded or bool(_DOMAIN_LIKE.search(folded))


# --- attribution (`source`) ------------------------------------------------------------------

SOURCE_TOO_LARGE = (
    f"Send at most {MAX_SOURCE_KEYS} attribution fields, {MAX_SOURCE_BYTES // 1024} KiB in all."
)


def source_size(source: Mapping[str, str]) -> int:
    """The bytes `source` takes: its keys and values in UTF-8."""
    # "replace": a lone surrogate (refused elsewhere) must not make the measure itself fail.
    return sum(
        len(key.encode("utf-8", "replace")) + len(value.encode("utf-8", "replace"))
        for key, value in source.items()
    )


def source_problem(source: Mapping[str, str]) -> str | None:
    """Why `source` is too large to keep (a sentence), or None."""
    if len(source) > MAX_SOURCE_KEYS or source_size(source) > MAX_SOURCE_BYTES:
        return SOURCE_TOO_LARGE
    return None


def fit_source(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Attribution a browser sent on its own, cut down to fit the caps rather than refused.

    Pairs are kept in order of importance: later ones are dropped first when space runs out.
    """
    kept: dict[str, str] = {}
    room = MAX_SOURCE_BYTES
    for raw_key, raw_value in pairs[:MAX_SOURCE_KEYS]:
        key = strip_controls(raw_key).strip()[:MAX_SOURCE_KEY_CHARS]
        value = strip_controls(raw_value).strip()[:MAX_SOURCE_VALUE_CHARS]
        if not key or not value:
            continue
        needed = source_size({key: value})
        if needed > room:
            continue
        kept[key] = value
        room -= needed
    return kept


# --- the client's details, kept as consent evidence --------------------------------------------

MAX_IP_CHARS = 64  # the column's width; a textual IPv6 address with a zone fits well inside


def client_ip(raw: str | None) -> str | None:
    """`raw` as a normalised IP address ("::1", "203.0.113.7"), or None if it is not one.

    With trusted proxies the address comes from X-Forwarded-For, which a client can fill with
    anything; only a real address is evidence (and a rate-limit key).
    """
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # the same client whichever way the socket saw it
    text = str(address)
    return text if len(text) <= MAX_IP_CHARS else None


def user_agent(raw: str | None) -> str | None:
    """The User-Agent header as evidence: printable characters only, at most the cap."""
    agent = "".join(char for char in raw or "" if char.isprintable())
    return agent.strip()[:MAX_USER_AGENT_CHARS] or None


# --- crisis wording (DOMAIN.md: 988 and 911 on every page and in every first answer) ---------

LIFELINE = "988"
LIFELINE_NAME = "Suicide & Crisis Lifeline"
LIFELINE_CHAT = "988lifeline.org"
LIFELINE_CHAT_URL = "https://988lifeline.org"
EMERGENCY = "911"

IMMEDIATE_DANGER = f"If you are in immediate danger, call {EMERGENCY} now."
LIFELINE_ANY_TIME = f"You can call or text {LIFELINE} ({LIFELINE_NAME}) at any time, day or night."
# The Lifeline serves Spanish speakers on the same number (DOMAIN.md).
LIFELINE_SPANISH = f"En español: call {LIFELINE} and press 2, or text AYUDA to {LIFELINE}."
# Beside PHQ-9 item 9 (thoughts of being better off dead or of self-harm).
THOUGHTS_RIGHT_NOW = (
    f"If you are having these thoughts right now, you can call or text {LIFELINE} at any time."
)
NOT_FOR_EMERGENCIES = (
    f"This form is not for emergencies. If you are in crisis, call or text {LIFELINE} now, "
    f"or call {EMERGENCY} if you are in immediate danger."
)
FOOTER = f"In crisis? Call or text {LIFELINE} ({LIFELINE_NAME}). In an emergency call {EMERGENCY}."
THINKING_OF_HARM = (
    f"If you are thinking about harming yourself, call or text {LIFELINE} ({LIFELINE_NAME}) "
    f"at any time, or call {EMERGENCY} if you are in immediate danger."
)
THANK_YOU = (
    "Thank you. We have your request, and a member of our care team will contact you soon. "
    + THINKING_OF_HARM
)
CLINICIAN_WILL_CALL = "A clinician from our team will call you as soon as possible."
CRISIS_MESSAGE = (
    f"{IMMEDIATE_DANGER} You can call or text {LIFELINE} ({LIFELINE_NAME}) at any time, day or "
    f"night, or chat at {LIFELINE_CHAT}; for Spanish, call {LIFELINE} and press 2. "
    "Thank you for telling us: a clinician from our team will call you as soon as possible."
)
# What the pages get (templates link the numbers themselves).
CRISIS_WORDING: dict[str, str] = {
    "lifeline": LIFELINE,
    "lifeline_name": LIFELINE_NAME,
    "lifeline_chat": LIFELINE_CHAT,
    "lifeline_chat_url": LIFELINE_CHAT_URL,
    "emergency": EMERGENCY,
    "immediate_danger": IMMEDIATE_DANGER,
    "lifeline_any_time": LIFELINE_ANY_TIME,
    "lifeline_spanish": LIFELINE_SPANISH,
    "thoughts_right_now": THOUGHTS_RIGHT_NOW,
    "clinician_will_call": CLINICIAN_WILL_CALL,
    "not_for_emergencies": NOT_FOR_EMERGENCIES,
    "thinking_of_harm": THINKING_OF_HARM,
    "footer": FOOTER,
}
