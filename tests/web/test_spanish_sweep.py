"""Every public page in Spanish, with no English left: chosen by `?lang=es` and by
Accept-Language alike, for the forms, their errors, the thank-you pages, the privacy notice,
the unsubscribe pages, the embedded forms and the error pages (400, 404, 415, 429).

Two checks per page, each against the same page rendered in English:
- no sentence of the English catalogue (a msgid with a Spanish msgstr) that the English page
  shows appears in the Spanish one;
- no piece of visible text of the English page appears unchanged in the Spanish page, apart
  from the clinic's own details, numbers and the few words both languages share. This catches
  English that never reached the catalogue at all (a sentence written into a template).
Text marked `lang="en"` (the consent wordings, English until they get a Spanish version) is
left out of both.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask

from intake_service.domain.compliance import unsubscribe
from intake_service.extensions import limiter
from intake_service.models import Lead
from intake_service.web.public.pages import THANK_YOU_SESSION_KEY
from tests.web.test_embed import ENV as EMBED_ENV
from tests.web.test_embed import SELF
from tests.web.test_forms import Page, contact_data, tms_data

CATALOGUE = (
    Path(__file__).resolve().parents[2] / "intake_service/translations/es/LC_MESSAGES/messages.po"
)
# Shown the same in both languages: brand names, the language switch's own names, and words
# Spanish spells as English does. (The clinic's own details are the clinic's: see below.)
SAME_IN_BOTH = {
    "Error:",
    "TMS",
    "No",
    "English",
    "Español",
    "988lifeline.org",
    "PHQ-9",
    "GAD-7",
}
LANGUAGES = {
    "query": ({}, {"lang": "es"}),
    "header": ({"Accept-Language": "es-MX,es;q=0.9"}, {}),
}
# A form sent with nothing filled in (a field, so the body is a form post).
BLANK = {"callback_window": "any"}
HIDDEN_TAGS = {"script", "style"}
DASH = "\N{EN DASH}"  # between a page's title and the clinic's name
VOID = {"input", "br", "meta", "link", "img", "hr", "source", "area", "base", "col", "wbr"}


class VisibleText(HTMLParser):
    """Pieces of text a person sees or hears, without those marked as English."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._open: list[tuple[str, bool]] = []  # (tag, hidden or marked English)
        self.feed(html)
        self.close()

    def _skipping(self) -> bool:
        return any(skip for _, skip in self._open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        # An English passage inside a page; the page's own language is on <html>.
        # Out of sight and out of the accessibility tree (the honeypot field) is not read either.
        skip = (
            tag in HIDDEN_TAGS
            or (tag != "html" and values.get("lang") == "en")
            or values.get("aria-hidden") == "true"
        )
        if not self._skipping() and not skip:
            for name in ("alt", "aria-label", "placeholder", "title"):
                self._add(values.get(name))
        if tag not in VOID:
            self._open.append((tag, skip))

    def handle_endtag(self, tag: str) -> None:
        for position in range(len(self._open) - 1, -1, -1):
            if self._open[position][0] == tag:
                del self._open[position:]
                return

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self._add(data)

    def _add(self, text: str | None) -> None:
        # A title's "<page> DASH <clinic>" is two pieces: the page's words and the clinic's name.
        for part in " ".join((text or "").split()).split(f" {DASH} "):
            if part.strip():
                self.pieces.append(part.strip())

    def text(self) -> str:
        return " ".join(self.pieces)


def catalogued_english() -> list[str]:
    """The English sentences the catalogue gives a different Spanish wording, longest first."""
    with CATALOGUE.open("rb") as source:
        catalogue = read_po(source)
    ids = {
        str(m.id)
        for m in catalogue
        if m.id and isinstance(m.id, str) and m.string and m.string != m.id
    }
    return sorted(ids, key=len, reverse=True)


def _pattern(msgid: str) -> re.Pattern[str]:
    # A msgid stands alone as words ("Call" is not the start of "Calle").
    return re.compile(rf"(?<![\w]){re.escape(msgid)}(?![\w])")


def untranslated(english_html: str, spanish_html: str, clinic: tuple[str, ...] = ()) -> list[str]:
    """What the Spanish page still shows in English; `clinic` is the clinic's own details."""
    english, spanish = VisibleText(english_html), VisibleText(spanish_html)
    found: list[str] = []
    english_text, spanish_text = english.text(), spanish.text()
    for msgid in catalogued_english():
        pattern = _pattern(msgid)
        if "%(" in msgid:
            # A sentence with a value in it is checked as the pieces around the value, below.
            continue
        if pattern.search(english_text) and pattern.search(spanish_text):
            found.append(f"catalogued: {msgid!r}")
    spanish_pieces = set(spanish.pieces)
    for piece in english.pieces:
        if piece in spanish_pieces and piece not in SAME_IN_BOTH and _has_words(piece, clinic):
            found.append(f"unchanged: {piece!r}")
    return sorted(set(found))


def _has_words(piece: str, clinic: tuple[str, ...]) -> bool:
    # Numbers, a masked email address, "Error 404." and the clinic's own name and address (as
    # the admin wrote them) are the same in any language.
    bare = piece.strip(f" ·,.-{DASH}")
    if not re.search(r"[A-Za-z]{2,}", bare) or bare in clinic:
        return False
    return not re.fullmatch(r"[\w.…]+@[\w.]+|Error \d+\.?", bare)


# --- the pages --------------------------------------------------------------------------------


@pytest.fixture
def sweep_app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app(**EMBED_ENV, DUPLICATE_WINDOW_DAYS="0")
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def _url(path: str, query: dict[str, str]) -> str:
    return f"{path}?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else path


def public_pages(app: Flask, headers: dict[str, str], query: dict[str, str]) -> Iterator[Any]:
    """(name, html) of every public page, in the language the headers or query ask for."""
    client = app.test_client()
    for path in ("/contact", "/screening/tms", "/screening/phq9", "/screening/gad7", "/privacy"):
        yield path, client.get(_url(path, query), headers=headers).text
        if path != "/privacy":
            empty = client.post(_url(path, query), data=BLANK, headers=headers)
            assert empty.status_code == 422
            yield f"{path} with every error", empty.text
    for path in ("/embed/contact", "/embed/screening/tms"):
        frame = app.test_client(use_cookies=False)
        yield path, frame.get(_url(path, query), headers=headers).text
        refused = frame.post(_url(path, query), data=BLANK, headers={**headers, "Origin": SELF})
        yield f"{path} refused", refused.text

    unique = uuid.uuid4().hex[:8]
    sent = client.post(
        _url("/screening/tms", query),
        data=tms_data(email=f"sweep-{unique}@patients.example", phone="", sms_consent=None),
        headers=headers,
    )
    assert sent.status_code == 303, sent.text
    thanks = sent.headers["Location"]
    yield "thank-you", client.get(thanks, headers=headers).text
    with client.session_transaction() as session:
        session[THANK_YOU_SESSION_KEY] = {"id": thanks.rsplit("/", 1)[1], "urgent": True}
    yield "thank-you, urgent", client.get(thanks, headers=headers).text

    with app.extensions["intake.db"].session() as session:
        lead_id = session.query(Lead.id).filter(Lead.first_name == "Jane").all()[-1][0]
    token = unsubscribe.token_for(lead_id, app.extensions["intake.settings"])
    yield "unsubscribe", client.get(_url(f"/unsubscribe/{token}", query), headers=headers).text
    done = client.post(_url(f"/unsubscribe/{token}", query), headers=headers)
    yield "unsubscribed", done.text
    again = client.get(_url(f"/unsubscribe/{token}", query), headers=headers)
    yield "unsubscribe again", again.text
    bad_link = client.get(_url("/unsubscribe/nope", query), headers=headers)
    yield "unsubscribe, bad link", bad_link.text

    yield "404", client.get(_url("/no-such-page", query), headers=headers).text
    not_a_form = client.post(
        _url("/contact", query), data="hello", content_type="text/plain", headers=headers
    )
    yield "415", not_a_form.text
    yield "405", client.put(_url("/contact", query), headers=headers).text


def limited_pages(
    make_app: Callable[..., Flask], headers: dict[str, str], query: dict[str, str]
) -> Iterator[Any]:
    """The 429s: the per-contact cap (the form back as typed) and the rate limiter's page."""
    capped = make_app(DUPLICATE_WINDOW_DAYS="0", SUBMISSIONS_PER_CONTACT_PER_HOUR="1")
    capped.config["WTF_CSRF_ENABLED"] = False
    client = capped.test_client()
    email = f"capped-{uuid.uuid4().hex[:8]}@patients.example"
    for expected in (303, 429):
        data = contact_data(
            email=email,
            phone="",
            sms_consent=None,
            message=None,
            submission_token=str(uuid.uuid4()),
        )
        response = client.post(_url("/contact", query), data=data, headers=headers)
        assert response.status_code == expected
    yield "429, contact cap", response.text

    limiter_was = limiter.enabled
    limited = make_app(RATELIMIT_SUBMISSIONS="1 per minute", RATELIMIT_ENABLED="true")
    limited.config["WTF_CSRF_ENABLED"] = False
    try:
        client = limited.test_client()
        statuses = []
        for _ in range(2):
            response = client.post(_url("/contact", query), data=BLANK, headers=headers)
            statuses.append(response.status_code)
        assert statuses == [422, 429]
        yield "429, rate limit", response.text
    finally:
        limiter.enabled = limiter_was

    expired = make_app()
    response = expired.test_client().post(_url("/contact", query), data=BLANK, headers=headers)
    assert response.status_code == 400
    yield "400, page open too long", response.text


def all_pages(
    app: Flask, make_app: Callable[..., Flask], headers: dict[str, str], query: dict[str, str]
) -> dict[str, str]:
    pages = dict(public_pages(app, headers, query))
    pages.update(limited_pages(make_app, headers, query))
    return pages


@pytest.mark.parametrize("how", LANGUAGES)
def test_every_public_page_in_spanish_has_no_english_left(
    sweep_app: Flask, make_app: Callable[..., Flask], how: str
) -> None:
    english = all_pages(sweep_app, make_app, {"Accept-Language": "en"}, {})
    headers, query = LANGUAGES[how]
    spanish = all_pages(sweep_app, make_app, headers, query)
    settings = sweep_app.extensions["intake.settings"]
    clinic = (settings.clinic_name, settings.clinic_address)

    assert english.keys() == spanish.keys()
    left = {
        name: found
        for name in english
        if (found := untranslated(english[name], spanish[name], clinic))
    }
    assert left == {}, "\n".join(f"{name}: {found}" for name, found in left.items())
    for name, html in spanish.items():
        assert Page(html).find_all("html")[0].attr("lang") == "es", name


def test_the_sweep_sees_english_left_in_a_spanish_page() -> None:
    # The check itself must be able to fail: a page with one English sentence left.
    english = "<html><body><p>Contact us</p><p>Tell us a thing.</p></body></html>"
    spanish = "<html><body><p>Contáctenos</p><p>Tell us a thing.</p></body></html>"
    still = "<html><body><p>Contact us</p><p lang='en'>Consent.</p></body></html>"

    assert untranslated(english, spanish) == ["unchanged: 'Tell us a thing.'"]
    assert "catalogued: 'Contact us'" in untranslated(english, still)
