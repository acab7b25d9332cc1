"""Which language a public page speaks: English or Spanish, chosen by the person.

The order: `?lang=` on any public page (and remembered in the session, so the switch sticks),
else what was remembered, else the browser's Accept-Language, else the clinic's default. Staff
pages stay in English: the team's tools are not translated. The embedded forms follow the same
order, except that they remember nothing (see web/public/embed.py).
"""

from __future__ import annotations

from flask import current_app, request, session

from intake_service.domain.intake.rules import DEFAULT_LOCALE, LOCALES
from intake_service.web.public import EMBED_BLUEPRINT, PATIENT_BLUEPRINTS

SUPPORTED = LOCALES
# The name of each language in itself, for the switch.
NAMES = {"en": "English", "es": "Español"}
SESSION_KEY = "intake.lang"
DEFAULT = DEFAULT_LOCALE


def select_locale() -> str:
    """The locale for this request (Flask-Babel's locale selector)."""
    if request.blueprint not in PATIENT_BLUEPRINTS:
        return DEFAULT
    asked = (request.args.get("lang") or "").strip().lower()
    if asked in SUPPORTED:
        # An embedded page sets no cookie (a third-party frame would refuse it): its links and
        # its form keep `?lang=` instead.
        if request.blueprint != EMBED_BLUEPRINT:
            session[SESSION_KEY] = asked
        return asked
    remembered = session.get(SESSION_KEY)
    if remembered in SUPPORTED:
        return str(remembered)
    best = request.accept_languages.best_match(SUPPORTED)
    if best:
        return best
    default = current_app.extensions["intake.settings"].clinic_locale
    return default if default in SUPPORTED else DEFAULT


def other(locale: str) -> str:
    """The language the switch offers when the page is in `locale`."""
    return "en" if locale == "es" else "es"
