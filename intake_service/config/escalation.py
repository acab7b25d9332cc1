"""Settings of "nobody left unclaimed": time to first contact per priority, business hours."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from intake_service.config.readers import ConfigError, read_seconds

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class EscalationSettings:
    # Minutes to first contact: the lead-response studies' five minutes for urgent leads, an
    # hour for strong candidates; the rest within one business day (business hours below).
    urgent_minutes: float = 5.0
    high_minutes: float = 60.0
    business_open: dt.time = dt.time(9, 0)
    business_close: dt.time = dt.time(17, 0)
    business_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0


def _time(env: Mapping[str, str], name: str, default: dt.time) -> dt.time:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a time such as 09:00, not {raw!r}.") from None


def _days(env: Mapping[str, str]) -> tuple[int, ...]:
    raw = env.get("BUSINESS_DAYS", "").strip().lower()
    if not raw:
        return EscalationSettings.business_days
    days = []
    for part in (p.strip()[:3] for p in raw.split(",") if p.strip()):
        if part not in DAYS:
            raise ConfigError(f"BUSINESS_DAYS takes day names such as mon,tue,wed, not {part!r}.")
        days.append(DAYS.index(part))
    return tuple(sorted(set(days)))


def escalation_settings(env: Mapping[str, str]) -> EscalationSettings:
    """Read the escalation settings; raises ConfigError on a malformed value."""
    opens = _time(env, "BUSINESS_OPEN", EscalationSettings.business_open)
    closes = _time(env, "BUSINESS_CLOSE", EscalationSettings.business_close)
    if closes <= opens:
        raise ConfigError("BUSINESS_CLOSE must be later than BUSINESS_OPEN.")
    return EscalationSettings(
        urgent_minutes=read_seconds(env, "FIRST_CONTACT_URGENT_MINUTES", 5.0),
        high_minutes=read_seconds(env, "FIRST_CONTACT_HIGH_MINUTES", 60.0),
        business_open=opens,
        business_close=closes,
        business_days=_days(env),
    )
