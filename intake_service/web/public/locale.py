"""Which language a public page speaks: English or Spanish, chosen by the person.

The order: `?lang=` on any public page (and remembered in the session, so the switch sticks),
else what was remembered, else the browser's Accept-Language, else the clinic's default. Staff
pages stay in English: the team's tools are not translated. The embedded forms follow the same
order, except that they remember nothing (see web/public/embed.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, request, session
from flask_babel import force_locale

from intake_service.domain.intake.rules import DEFAULT_LOCALE, LOCALES
from intake_service.web.public import EMBED_BLUEPRINT, PATIENT_BLUEPRINTS

SUPPORTED = LOCALES
# The name of each language in itself, for the switch.
NAMES = {"en": "English", "es": "Español"}
SESSION_KEY = "intake.lang"
DEFAULT = DEFAULT_LOCALE


def select_locale() -> str:
    """The locale for this request (Flask-Babel's locale selector)."""
    if not _patient_request():
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


def _patient_request() -> bool:
    """A patient page, or an address no page answers that is not the staff's or a machine's.

    A mistyped or stale link from a clinic's site gets its 404 in the person's language; one
    under /admin, /staff, /api and the like stays English.
    """
    if request.url_rule is not None:
        return request.blueprint in PATIENT_BLUEPRINTS
    first = request.path.strip("/").split("/", 1)[0]
    return first not in _staff_segments()


def _staff_segments() -> frozenset[str]:
    # The first path segments only non-patient pages use, read once from the app's own routes
    # so a new staff blueprint needs no list kept here.
    cached: frozenset[str] | None = current_app.extensions.get("intake.staff_segments")
    if cached is None:
        owners: dict[str, set[bool]] = {}
        for rule in current_app.url_map.iter_rules():
            blueprint = rule.endpoint.rpartition(".")[0]
            first = rule.rule.strip("/").split("/", 1)[0]
            owners.setdefault(first, set()).add(blueprint in PATIENT_BLUEPRINTS)
        cached = frozenset(first for first, patient in owners.items() if True not in patient)
        current_app.extensions["intake.staff_segments"] = cached
    return cached


@contextmanager
def lead_locale(recorded: str) -> Iterator[None]:
    """Speak the lead's recorded language on a page about that lead (the unsubscribe page).

    The person chose it on the form; `?lang=` on the page still wins, so the switch works.
    """
    asked = (request.args.get("lang") or "").strip().lower()
    if asked in SUPPORTED or recorded not in SUPPORTED:
        yield
        return
    with force_locale(recorded):
        yield
