"""Clinic settings an admin edits: stored in the database, over the environment's defaults.

The environment (CLINIC_NAME, CLINIC_PHONE, BUSINESS_OPEN, FIRST_CONTACT_URGENT_MINUTES, ...)
gives each setting's default; a row in clinic_settings overrides it. A value equal to the
default is stored as no row at all, so changing the environment later still reaches every
setting nobody changed here. Every change is audited with its before and after.

`effective_clinic(session, settings)` is what message rendering, the escalation clock, routing
and the pages read.
"""

from __future__ import annotations

import logging
import math
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.config.readers import ConfigError
from intake_service.config.security import read_origins
from intake_service.domain import branding
from intake_service.domain.clinic_hours import FirstContact, InvalidHours, OpeningHours
from intake_service.domain.compliance import audit
from intake_service.domain.intake.contact import InvalidContact, normalize_phone
from intake_service.models import ClinicSetting

log = logging.getLogger(__name__)

# What the team's new-lead email may carry beyond the least needed to act (DOMAIN.md: staff
# emails carry name, priority and treatment, not screening results, unless an admin says so).
TEAM_EMAIL_EXTRAS = {
    "candidacy": "TMS candidacy from the self-screen",
    "score": "Screening score",
}
TEXT_FIELDS = ("name", "phone", "address", "timezone")
FLAG_FIELDS = tuple(f"team_email_{extra}" for extra in TEAM_EMAIL_EXTRAS)
# Minutes (urgent, strong candidacy) and business days (everyone else) to first contact.
DEADLINE_FIELDS = (
    "first_contact_urgent_minutes",
    "first_contact_high_minutes",
    "first_contact_normal_days",
)
HOURS_FIELDS = ("opening_hours", *DEADLINE_FIELDS)
LOOK_FIELDS = ("brand_color",)
# The clinic's own sites that may frame the embedded forms (over EMBED_ORIGINS).
EMBED_FIELDS = ("embed_origins",)
FIELDS = TEXT_FIELDS + FLAG_FIELDS + HOURS_FIELDS + LOOK_FIELDS + EMBED_FIELDS
LABELS = {
    "name": "Clinic name",
    "phone": "Phone",
    "address": "Postal address",
    "timezone": "Time zone",
    "team_email_candidacy": "Team email may carry the TMS candidacy",
    "team_email_score": "Team email may carry the screening score",
    "opening_hours": "Opening hours",
    "first_contact_urgent_minutes": "Time to first contact for urgent leads",
    "first_contact_high_minutes": "Time to first contact for strong candidates",
    "first_contact_normal_days": "Time to first contact for everyone else",
    "brand_color": "Primary colour",
    "embed_origins": "Sites that may embed the forms",
}
MAX_EMBED_ORIGINS = 20
MAX_LENGTH = {"name": 100, "phone": 40, "address": 200, "timezone": 60}
# (smallest, largest) a deadline may be, in its unit: minutes, or business days.
DEADLINE_RANGES = {
    "first_contact_urgent_minutes": (1, 120),
    "first_contact_high_minutes": (1, 24 * 60),
    "first_contact_normal_days": (1, 10),
}


class InvalidSetting(ValueError):
    """A value that cannot be used; `field` says which, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ClinicProfile:
    name: str
    phone: str
    address: str
    timezone: str
    team_email_carries: frozenset[str]  # keys of TEAM_EMAIL_EXTRAS the team email may show
    overridden: frozenset[str]  # fields whose value comes from the database, not the environment
    opening_hours: OpeningHours
    first_contact: FirstContact
    brand_color: str | None = None  # #rrggbb; None: the pages' own colour
    # Exact origins (scheme://host[:port]) allowed to frame /embed/...; () frames nowhere.
    embed_origins: tuple[str, ...] = ()

    @property
    def phone_e164(self) -> str:
        try:
            return normalize_phone(self.phone)
        except InvalidContact:
            return self.phone

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def template_clinic(self) -> dict[str, str]:
        """The `clinic` namespace message templates see."""
        return {
            "name": self.name,
            "phone": self.phone,
            "phone_e164": self.phone_e164,
            "address": self.address,
        }

    def value(self, field: str) -> Any:
        """The field as the settings form shows it and the audit trail records it."""
        if field in FLAG_FIELDS:
            return field.removeprefix("team_email_") in self.team_email_carries
        if field == "opening_hours":
            return self.opening_hours.to_json()
        if field == "first_contact_urgent_minutes":
            return _number(self.first_contact.urgent_minutes)
        if field == "first_contact_high_minutes":
            return _number(self.first_contact.high_minutes)
        if field == "first_contact_normal_days":
            return self.first_contact.normal_business_days
        if field == "brand_color":
            return self.brand_color or ""
        if field == "embed_origins":
            return list(self.embed_origins)
        return getattr(self, field)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def defaults(settings: Settings) -> dict[str, Any]:
    """Each setting's value from the environment (or the built-in default)."""
    limits = settings.escalation
    return {
        "name": settings.clinic_name,
        "phone": settings.clinic_phone,
        "address": settings.clinic_address,
        "timezone": settings.clinic_timezone,
        "team_email_candidacy": False,
        "team_email_score": False,
        "opening_hours": OpeningHours.from_limits(limits).to_json(),
        "first_contact_urgent_minutes": _number(limits.urgent_minutes),
        "first_contact_high_minutes": _number(limits.high_minutes),
        "first_contact_normal_days": 1,
        "brand_color": "",
        "embed_origins": list(settings.security.embed_origins),
    }


# Read for every lead processed and every message sent: built once, and only the two columns.
# The table holds a row per field an admin set, so every row is read and the fields kept here:
# `key IN (...)` of the fields had SQLAlchemy expand its list anew at each of those reads.
_STORED = select(ClinicSetting.key, ClinicSetting.value)
_FIELDS = frozenset(FIELDS)


def _stored(session: Session) -> dict[str, Any]:
    return {key: value for key, value in session.execute(_STORED) if key in _FIELDS}


def _opening_hours(value: Any, settings: Settings) -> OpeningHours:
    try:
        return OpeningHours.from_json(value)
    except (InvalidHours, AttributeError, TypeError):
        # Only update() writes the row, after the same check: a hand-edited row must not stop
        # the escalation clock, so the environment's hours stand in.
        log.warning("stored opening hours are unusable; using the environment's")
        return OpeningHours.from_limits(settings.escalation)


def _embed_origins(value: Any, settings: Settings) -> tuple[str, ...]:
    try:
        return read_origins("embed_origins", ",".join(str(v) for v in value))
    except (ConfigError, TypeError):
        # Only update() writes the row, after the same check; a hand-edited row frames nothing
        # new: the environment's list stands in.
        log.warning("stored embed origins are unusable; using the environment's")
        return settings.security.embed_origins


def effective_clinic(session: Session, settings: Settings) -> ClinicProfile:
    """The clinic as messages and pages should show it: the database over the environment."""
    stored = _stored(session)
    values: dict[str, Any] = {**defaults(settings), **stored}
    return ClinicProfile(
        name=str(values["name"]),
        phone=str(values["phone"]),
        address=str(values["address"]),
        timezone=str(values["timezone"]),
        team_email_carries=frozenset(
            extra for extra in TEAM_EMAIL_EXTRAS if values[f"team_email_{extra}"] is True
        ),
        overridden=frozenset(stored),
        opening_hours=_opening_hours(values["opening_hours"], settings),
        first_contact=FirstContact(
            urgent_minutes=float(values["first_contact_urgent_minutes"]),
            high_minutes=float(values["first_contact_high_minutes"]),
            normal_business_days=int(values["first_contact_normal_days"]),
        ),
        brand_color=str(values["brand_color"]) or None,
        embed_origins=_embed_origins(values["embed_origins"], settings),
    )


def effective_timezone(session: Session, settings: Settings) -> str:
    """The clinic's zone as the admin set it, else CLINIC_TIMEZONE: one row read, for callers
    (the contact policy, staff pages) that need nothing else."""
    row = session.get(ClinicSetting, "timezone")
    if row is not None and isinstance(row.value, str):
        try:
            zoneinfo.ZoneInfo(row.value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            log.warning("stored time zone is unusable; using the environment's")
        else:
            return row.value
    return settings.clinic_timezone


def _clean_text(field: str, raw: Any) -> str:
    value = " ".join(str(raw).split())
    if not value:
        raise InvalidSetting(field, f"{LABELS[field]} cannot be empty.")
    if len(value) > MAX_LENGTH[field]:
        raise InvalidSetting(
            field, f"{LABELS[field]} can have at most {MAX_LENGTH[field]} characters."
        )
    if field == "phone":
        try:
            normalize_phone(value)
        except InvalidContact:
            raise InvalidSetting(
                field, "Enter a phone number patients can call, like (310) 555-0100."
            ) from None
    if field == "timezone":
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise InvalidSetting(
                field, f"{value!r} is not a time zone; use one like America/New_York."
            ) from None
    return value


def _clean_deadline(field: str, raw: Any) -> int | float:
    low, high = DEADLINE_RANGES[field]
    unit = "business days" if field == "first_contact_normal_days" else "minutes"
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = math.nan
    whole_days = field != "first_contact_normal_days" or value.is_integer()
    if not (low <= value <= high) or not whole_days:
        raise InvalidSetting(
            field, f"{LABELS[field]} must be a number of {unit} from {low} to {high}."
        )
    return _number(value)


def _clean_origins(raw: Any, production: bool) -> list[str]:
    listed = raw if isinstance(raw, list | tuple) else str(raw).replace("\n", ",").split(",")
    try:
        origins = read_origins("embed_origins", ",".join(str(v).strip() for v in listed))
    except ConfigError:
        bad = next(
            (v for v in (str(v).strip().rstrip("/") for v in listed) if v and not _one(v)), ""
        )
        raise InvalidSetting(
            "embed_origins",
            f"{bad!r} is not an origin: list sites like https://clinic.example (scheme and "
            "host, optional port, no path or wildcard), one a line.",
        ) from None
    if len(origins) > MAX_EMBED_ORIGINS:
        raise InvalidSetting(
            "embed_origins", f"List at most {MAX_EMBED_ORIGINS} sites that may embed the forms."
        )
    plain = [o for o in origins if o.startswith("http://")]
    if production and plain:
        raise InvalidSetting(
            "embed_origins",
            f"{plain[0]} is not https: in production only https:// sites may embed the forms.",
        )
    return list(origins)


def _one(value: str) -> bool:
    try:
        read_origins("embed_origins", value)
    except ConfigError:
        return False
    return True


def _clean(field: str, raw: Any, production: bool = False) -> Any:
    if field == "embed_origins":
        return _clean_origins(raw, production)
    if field in FLAG_FIELDS:
        return bool(raw)
    if field == "opening_hours":
        try:
            return OpeningHours.from_json(raw).to_json()
        except InvalidHours as error:
            raise InvalidSetting(f"hours_{error.day}" if error.day else field, str(error)) from None
    if field in DEADLINE_FIELDS:
        return _clean_deadline(field, raw)
    if field == "brand_color":
        if not str(raw).strip():
            return ""  # the pages' own colour
        try:
            return branding.check_colour(str(raw))
        except branding.InvalidColour as error:
            raise InvalidSetting(field, str(error)) from None
    return _clean_text(field, raw)


def _check_together(cleaned: Mapping[str, Any], before: ClinicProfile) -> None:
    """Rules across fields: an urgent lead never waits longer than a strong candidate."""
    urgent = cleaned.get("first_contact_urgent_minutes", before.first_contact.urgent_minutes)
    high = cleaned.get("first_contact_high_minutes", before.first_contact.high_minutes)
    if urgent > high:
        raise InvalidSetting(
            "first_contact_urgent_minutes",
            f"Urgent leads must be called first: {_number(urgent)} minutes is longer than the "
            f"{_number(high)} minutes strong candidates get.",
        )


def store_override(
    session: Session, key: str, value: Any, default: Any, actor: audit.Actor
) -> None:
    """Keep `value` as the clinic's own setting `key`, or drop the row when it equals the
    default, so a changed default (environment, shipped file) applies again. Not committed."""
    row = session.get(ClinicSetting, key)
    if value == default:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(ClinicSetting(key=key, value=value, updated_by_id=actor.id))
    else:
        row.value = value
        row.updated_by_id = actor.id


def update(
    session: Session,
    settings: Settings,
    submitted: Mapping[str, Any],
    actor: audit.Actor,
) -> dict[str, dict[str, Any]]:
    """Store the submitted values (not committed); returns {field: {before, after}} changed.

    Raises InvalidSetting for the first bad value, before anything is stored.
    """
    production = settings.app_env == "production"
    cleaned = {
        field: _clean(field, submitted[field], production) for field in FIELDS if field in submitted
    }
    before = effective_clinic(session, settings)
    _check_together(cleaned, before)
    env = defaults(settings)
    changes: dict[str, dict[str, Any]] = {}
    for field, value in cleaned.items():
        old = before.value(field)
        if value == old:
            continue
        changes[field] = {"before": old, "after": value}
        store_override(session, field, value, env[field], actor)
    if changes:
        session.flush()
        audit.record(session, actor, "settings.changed", detail={"changes": changes})
    return changes
