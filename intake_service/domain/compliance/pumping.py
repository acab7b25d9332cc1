"""SMS-pumping defence: texts only to real mobiles in the clinic's countries, within caps.

Toll fraud submits public forms with premium-rate or foreign numbers so that the clinic pays
for texts nobody wanted. `check` is a contact-policy rule (policy.RULES): a refused text
leaves email open (other_channel). `watch` runs when a lead is processed: a sudden rise in
texts to one prefix or country pauses texting there (an SmsPause row) and tells the team once.

Caps count texts the provider already took (sent, delivered, undelivered) in the last day;
two workers sending at the same instant may each pass a cap at its last place, by one. The
counts per prefix and country are hourly (text_volume), the count per number is its messages.
"""

from __future__ import annotations

import datetime as dt
import logging

import phonenumbers
from phonenumbers import PhoneNumberType
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from intake_service.channels import TOLLED_KINDS, kind
from intake_service.config import Settings
from intake_service.config.abuse import AbuseSettings
from intake_service.domain.compliance import text_volume
from intake_service.domain.compliance.text_volume import AT_PROVIDER, country_of, prefix_of
from intake_service.models import Lead, Message, SmsPause, TextVolume

log = logging.getLogger(__name__)

# phonenumbers tells these apart in most countries; FIXED_LINE_OR_MOBILE (all of North America)
# and UNKNOWN are let through: refusing them would refuse every US patient.
REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "sms_premium_rate",
    PhoneNumberType.SHARED_COST: "sms_premium_rate",
    PhoneNumberType.FIXED_LINE: "sms_not_mobile",
}
DAY = text_volume.DAY
HOUR = text_volume.HOUR
BASELINE = text_volume.BASELINE
TEMPLATE = "team_sms_paused"


def limits_of(session: Session) -> AbuseSettings:
    settings = session.info.get("settings")
    return settings.abuse if settings is not None else AbuseSettings()


def refusal(session: Session, lead: Lead, channel: str, now: dt.datetime) -> str | None:
    """Why a text to the lead's number would feed SMS pumping, or None when it would not."""
    if not kind(channel).tolled:
        return None
    number = text_volume.parse(lead.address(channel))
    if number is None:
        return None  # no number, or a malformed one: the address rules answer for it
    limits = limits_of(session)
    if phonenumbers.region_code_for_number(number) not in limits.sms_allowed_countries:
        return "sms_country_not_allowed"
    refused_type = REFUSED_TYPES.get(phonenumbers.number_type(number))
    if refused_type is not None:
        return refused_type
    e164 = lead.address(channel) or ""
    # The pause and both caps in one query.
    params = {
        **_pause_params(number),
        "number": e164,
        "number_since": now - DAY,
        **text_volume.taken_in_day_params(prefix_of(number), now),
    }
    paused, to_number, to_prefix = session.execute(_REFUSAL_COUNTS, params).one()
    if paused:
        return "sms_paused"
    if to_number >= limits.sms_daily_cap_per_number:
        return "sms_number_daily_cap"
    if to_prefix >= limits.sms_daily_cap_per_prefix:
        return "sms_prefix_daily_cap"
    return None


# The statements below run for every text planned and sent: built once, with named parameters.
# The open pauses of the prefix bound as "pause_prefix" or the country bound as "pause_country".
_PAUSED = select(SmsPause.id).where(
    SmsPause.lifted_at.is_(None),
    or_(
        and_(SmsPause.scope == "prefix", SmsPause.value == bindparam("pause_prefix")),
        and_(SmsPause.scope == "country", SmsPause.value == bindparam("pause_country")),
    ),
)
# Texts to the number bound as "number" the provider took since "number_since" (its
# recipient index).
_TAKEN_BY_NUMBER = (
    select(func.count())
    .where(
        Message.recipient == bindparam("number"),
        Message.created_at >= bindparam("number_since"),
        Message.channel.in_(TOLLED_KINDS),
        Message.audience == "patient",
        Message.status.in_(AT_PROVIDER),
    )
    .scalar_subquery()
)
_REFUSAL_COUNTS = select(_PAUSED.exists(), _TAKEN_BY_NUMBER, text_volume.TAKEN_IN_DAY)


def _pause_params(number: phonenumbers.PhoneNumber) -> dict[str, str]:
    return {"pause_prefix": prefix_of(number), "pause_country": country_of(number)}


# Texts planned to the prefix and to the country (bound as "prefix" and "country"): in the last
# hour and in it with the week before, from the hourly counts of both scopes in one query.
_SCOPES = {
    "prefix": and_(TextVolume.scope == "prefix", TextVolume.value == bindparam("prefix")),
    "country": and_(TextVolume.scope == "country", TextVolume.value == bindparam("country")),
}
_LAST_HOUR = text_volume.in_window(TextVolume.planned, "hour")
_WITH_WEEK = text_volume.in_window(TextVolume.planned, "week")
_SURGE_COUNTS = select(
    _LAST_HOUR.filter(_SCOPES["prefix"]),
    _WITH_WEEK.filter(_SCOPES["prefix"]),
    _LAST_HOUR.filter(_SCOPES["country"]),
    _WITH_WEEK.filter(_SCOPES["country"]),
).where(or_(*_SCOPES.values()), TextVolume.hour >= bindparam("since"))


def _surge_counts(
    session: Session, prefix: str, country: str, now: dt.datetime
) -> dict[str, tuple[float, float]]:
    """Texts planned to the prefix and to the country: (in the last hour, in the week before
    it)."""
    params = {
        "prefix": prefix,
        "country": country,
        "since": text_volume.hour_of(now - HOUR - BASELINE),
        **text_volume.window_params("hour", now, HOUR),
        **text_volume.window_params("week", now, HOUR + BASELINE),
    }
    prefix_hour, prefix_all, country_hour, country_all = (
        float(total or 0) for total in session.execute(_SURGE_COUNTS, params).one()
    )
    return {
        "prefix": (prefix_hour, prefix_all - prefix_hour),
        "country": (country_hour, country_all - country_hour),
    }


def watch(session: Session, lead: Lead, settings: Settings, now: dt.datetime) -> list[SmsPause]:
    """Pause texting to the lead's prefix or country after a sudden rise (not committed).

    Counts every text planned or sent in the last hour against the hourly average of the week
    before. Returns the pauses made now (none if already paused); the caller tells the team.
    """
    number = text_volume.parse(lead.phone)
    if number is None:
        return []
    limits = settings.abuse
    counts = _surge_counts(session, prefix_of(number), country_of(number), now)
    made = []
    for scope, value in (("prefix", prefix_of(number)), ("country", country_of(number))):
        last_hour, before = counts[scope]
        usual = before / (BASELINE / HOUR)
        if (
            last_hour < limits.sms_surge_min_per_hour
            or last_hour <= limits.sms_surge_factor * usual
        ):
            continue
        pause = session.scalars(
            select(SmsPause).where(SmsPause.scope == scope, SmsPause.value == value)
        ).first()
        if pause is not None and pause.lifted_at is None:
            continue
        reason = f"{last_hour:.0f} texts in the last hour, usually {usual:.1f}"
        if pause is None:
            pause = SmsPause(scope=scope, value=value, paused_at=now, reason=reason)
            session.add(pause)
        else:
            # Lifted before and surging again: the same row, paused anew.
            pause.paused_at, pause.reason, pause.lifted_at, pause.lifted_by = (
                now,
                reason,
                None,
                None,
            )
        made.append(pause)
        log.warning("texting paused to %s %s: %s", scope, value, reason)
    session.flush()
    return made


def lift(session: Session, scope: str, value: str, by: str, now: dt.datetime) -> bool:
    """Lift a pause (not committed); False when nothing was paused there."""
    pause = session.scalars(
        select(SmsPause).where(
            SmsPause.scope == scope, SmsPause.value == value, SmsPause.lifted_at.is_(None)
        )
    ).first()
    if pause is None:
        return False
    pause.lifted_at, pause.lifted_by = now, by
    return True
