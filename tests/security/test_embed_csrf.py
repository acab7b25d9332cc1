"""The embedded forms' cookie-free CSRF token: made here, for this form and page, and recent."""

from __future__ import annotations

import datetime as dt

from intake_service.security import embed_csrf

SECRET = "test-secret-key-0123456789"
NOW = dt.datetime(2026, 12, 1, 21, 0, tzinfo=dt.UTC)
PAGE = "0b5c2f1e-8d5b-4c1e-9a43-3f1a2b6c7d8e"


def test_a_token_vouches_for_its_form_and_page_for_its_lifetime() -> None:
    token = embed_csrf.make(SECRET, "contact", PAGE, now=NOW)
    almost = NOW + dt.timedelta(seconds=embed_csrf.MAX_AGE_SECONDS - 1)

    assert embed_csrf.valid(SECRET, token, "contact", PAGE, now=almost)
    assert not embed_csrf.valid(SECRET, token, "tms_screen", PAGE, now=NOW)
    assert not embed_csrf.valid(SECRET, token, "contact", PAGE.replace("0b", "1b"), now=NOW)
    assert not embed_csrf.valid("another-secret-key-0123456789", token, "contact", PAGE, now=NOW)


def test_an_old_or_future_dated_token_is_refused() -> None:
    token = embed_csrf.make(SECRET, "contact", PAGE, now=NOW)
    later = NOW + dt.timedelta(seconds=embed_csrf.MAX_AGE_SECONDS + 1)
    earlier = NOW - dt.timedelta(minutes=5)

    assert not embed_csrf.valid(SECRET, token, "contact", PAGE, now=later)
    assert not embed_csrf.valid(SECRET, token, "contact", PAGE, now=earlier)


def test_nothing_and_garbage_are_refused() -> None:
    for token in (None, "", "garbage", "a.b.c"):
        assert not embed_csrf.valid(SECRET, token, "contact", PAGE, now=NOW)
    assert not embed_csrf.valid(SECRET, embed_csrf.make(SECRET, "contact", PAGE), "contact", None)
