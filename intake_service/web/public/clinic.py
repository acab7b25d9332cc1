"""The clinic as the public pages show it: the admin's settings over the environment.

Read once per request (kept on `g`): name, phone, address, opening hours, the first-contact
promise, logo and colour, and the sites that may frame the embedded forms.
The hours and the first-contact promise are the admin's, in the page's language, once saved in
the clinic settings; until then CLINIC_HOURS and CLINIC_FIRST_CONTACT, the clinic's own words.
A page rendered while the database is unreachable (the 503 page itself) shows the
environment's values rather than failing again.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import current_app, g, url_for
from flask_babel import gettext
from sqlalchemy.exc import SQLAlchemyError

from intake_service.config import Settings
from intake_service.db import get_db
from intake_service.domain import branding
from intake_service.domain.clinic_hours import DAY_NAMES, OpeningHours
from intake_service.domain.clinic_settings import ClinicProfile, effective_clinic
from intake_service.domain.intake.contact import InvalidContact, normalize_phone

log = logging.getLogger(__name__)

_KEY = "intake_public_clinic"
_OFFLINE = "intake_database_unreachable"
_ORIGINS_KEY = "intake_embed_origins"


def database_unreachable() -> None:
    """Say that this request's database is down: its error page must not ask it again."""
    setattr(g, _OFFLINE, True)


def tel_target(phone: str) -> str:
    """`phone` as a tel: link's target (E.164 when it parses, else its digits)."""
    try:
        return normalize_phone(phone)
    except InvalidContact:
        return "".join(char for char in phone if char.isdigit() or char == "+")


def _clock(value: dt.time) -> str:
    hour = value.hour % 12 or 12
    time = f"{hour}:{value.minute:02d}" if value.minute else str(hour)
    if value.hour < 12:
        return gettext("%(time)s am", time=time)
    return gettext("%(time)s pm", time=time)


def hours_words(hours: OpeningHours) -> str:
    """The opening hours in the page's language: "Monday to Friday, 9 am to 5 pm"."""
    parts = []
    for first, last, (opens, closes) in hours.groups():
        days = gettext(DAY_NAMES[first])
        if first != last:
            days = gettext("%(first)s to %(last)s", first=days, last=gettext(DAY_NAMES[last]))
        parts.append(
            gettext(
                "%(days)s, %(opens)s to %(closes)s",
                days=days,
                opens=_clock(opens),
                closes=_clock(closes),
            )
        )
    return "; ".join(parts)


def first_contact_words(business_days: int) -> str:
    """The thank-you page's promise for the admin's deadline, in the page's language."""
    if business_days == 1:
        return gettext("We'll call you within one business day.")
    return gettext("We'll call you within %(days)s business days.", days=business_days)


def _read(settings: Settings) -> tuple[ClinicProfile | None, branding.LogoRef | None]:
    if g.get(_OFFLINE):
        return None, None
    try:
        with get_db().session() as session:
            return effective_clinic(session, settings), branding.current_logo(session)
    except SQLAlchemyError:
        log.warning("clinic settings unreadable; the page shows the environment's")
        return None, None


def embed_origins() -> tuple[str, ...]:
    """The sites that may frame the embedded forms: the admin's list over EMBED_ORIGINS (the
    environment's when the database is down)."""
    cached: tuple[str, ...] | None = g.get(_ORIGINS_KEY)
    if cached is not None:
        return cached
    settings: Settings = current_app.extensions["intake.settings"]
    profile, _ = _read(settings)
    origins = profile.embed_origins if profile else settings.security.embed_origins
    setattr(g, _ORIGINS_KEY, origins)
    return origins


def public_clinic() -> dict[str, Any]:
    """What the public templates call `clinic`."""
    cached: dict[str, Any] | None = g.get(_KEY)
    if cached is not None:
        return cached
    settings: Settings = current_app.extensions["intake.settings"]
    profile, logo = _read(settings)
    name = profile.name if profile else settings.clinic_name
    phone = profile.phone if profile else settings.clinic_phone
    hours = settings.clinic_hours
    if profile is not None and "opening_hours" in profile.overridden:
        hours = hours_words(profile.opening_hours)
    # The admin's deadline once saved; until then CLINIC_FIRST_CONTACT, the clinic's own words.
    first_contact = settings.clinic_first_contact
    if profile is not None and "first_contact_normal_days" in profile.overridden:
        first_contact = first_contact_words(profile.first_contact.normal_business_days)
    colour = profile.brand_color if profile else None
    clinic = {
        "name": name,
        "phone": phone,
        "phone_tel": tel_target(phone),
        "address": profile.address if profile else settings.clinic_address,
        "hours": hours,
        "first_contact": first_contact,
        "logo_url": url_for("logo.logo", filename=logo.filename) if logo else None,
        # Checked when saved: #rrggbb with white text on it at 4.5:1 or more.
        "brand": {"color": colour, "dark": branding.darker(colour)} if colour else None,
    }
    setattr(g, _KEY, clinic)
    return clinic
