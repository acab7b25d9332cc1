"""Clinic settings an admin edits: stored in the database, over the environment's defaults.

The environment (CLINIC_NAME, CLINIC_PHONE, ...) gives each setting's default; a row in
clinic_settings overrides it. A value equal to the default is stored as no row at all, so
changing the environment later still reaches every setting nobody changed here. Every change
is audited with its before and after.

`effective_clinic(session, settings)` is what message rendering and the staff pages read.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.domain.compliance import audit
from intake_service.domain.intake.contact import InvalidContact, normalize_phone
from intake_service.models import ClinicSetting

# What the team's new-lead email may carry beyond the least needed to act (DOMAIN.md: staff
# emails carry name, priority and treatment, not screening results, unless an admin says so).
TEAM_EMAIL_EXTRAS = {
    "candidacy": "TMS candidacy from the self-screen",
    "score": "Screening score",
}
TEXT_FIELDS = ("name", "phone", "address", "timezone")
FLAG_FIELDS = tuple(f"team_email_{extra}" for extra in TEAM_EMAIL_EXTRAS)
FIELDS = TEXT_FIELDS + FLAG_FIELDS
LABELS = {
    "name": "Clinic name",
    "phone": "Phone",
    "address": "Postal address",
    "timezone": "Time zone",
    "team_email_candidacy": "Team email may carry the TMS candidacy",
    "team_email_score": "Team email may carry the screening score",
}
MAX_LENGTH = {"name": 100, "phone": 40, "address": 200, "timezone": 60}


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

    @property
    def phone_e164(self) -> str:
        try:
            return normalize_phone(self.phone)
        except InvalidContact:
            return self.phone

    def template_clinic(self) -> dict[str, str]:
        """The `clinic` namespace message templates see."""
        return {
            "name": self.name,
            "phone": self.phone,
            "phone_e164": self.phone_e164,
            "address": self.address,
        }

    def value(self, field: str) -> str | bool:
        if field in FLAG_FIELDS:
            return field.removeprefix("team_email_") in self.team_email_carries
        value: str = getattr(self, field)
        return value


def defaults(settings: Settings) -> dict[str, str | bool]:
    """Each setting's value from the environment (or the built-in default)."""
    return {
        "name": settings.clinic_name,
        "phone": settings.clinic_phone,
        "address": settings.clinic_address,
        "timezone": settings.clinic_timezone,
        "team_email_candidacy": False,
        "team_email_score": False,
    }


def _stored(session: Session) -> dict[str, Any]:
    rows = session.scalars(select(ClinicSetting).where(ClinicSetting.key.in_(FIELDS)))
    return {row.key: row.value for row in rows}


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
    )


def _clean(field: str, raw: str | bool) -> str | bool:
    if field in FLAG_FIELDS:
        return bool(raw)
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


def update(
    session: Session,
    settings: Settings,
    submitted: Mapping[str, str | bool],
    actor: audit.Actor,
) -> dict[str, dict[str, str | bool]]:
    """Store the submitted values (not committed); returns {field: {before, after}} changed.

    Raises InvalidSetting for the first bad value, before anything is stored.
    """
    cleaned = {field: _clean(field, submitted[field]) for field in FIELDS if field in submitted}
    before = effective_clinic(session, settings)
    env = defaults(settings)
    changes: dict[str, dict[str, str | bool]] = {}
    for field, value in cleaned.items():
        old = before.value(field)
        if value == old:
            continue
        changes[field] = {"before": old, "after": value}
        row = session.get(ClinicSetting, field)
        if value == env[field]:
            # Back to the environment's value: no override, so the environment rules again.
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(ClinicSetting(key=field, value=value, updated_by_id=actor.id))
        else:
            row.value = value
            row.updated_by_id = actor.id
    if changes:
        session.flush()
        audit.record(session, actor, "settings.changed", detail={"changes": changes})
    return changes
