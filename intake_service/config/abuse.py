"""Settings of the defences against bots and SMS pumping (issue 10), each with a sane default.

Read from the environment by `abuse_settings`; `Settings.abuse` holds the result, so a test or a
caller that builds Settings by hand gets the defaults without naming them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from intake_service.config.readers import ConfigError, read_seconds


@dataclass(frozen=True)
class AbuseSettings:
    # A person needs a few seconds to read and fill a form; a script posts at once.
    spam_min_fill_seconds: float = 3.0
    # A form page older than this (its signed timestamp) is not trusted for the timing check.
    spam_form_max_age_seconds: float = 86400.0
    spam_max_links: int = 2
    # Texts go only to these countries (ISO 3166 alpha-2), the clinic's own.
    sms_allowed_countries: tuple[str, ...] = ("US", "CA")
    sms_daily_cap_per_number: int = 5
    sms_daily_cap_per_prefix: int = 50
    # A prefix or country that gets more texts in the last hour than this, and more than
    # `sms_surge_factor` times its usual hourly rate, is paused: a surge is a signal, not demand.
    sms_surge_min_per_hour: int = 10
    sms_surge_factor: float = 5.0
    duplicate_window_days: int = 30
    # Submissions one phone number or email address may make in an hour (0: no cap).
    submissions_per_contact_per_hour: int = 5


def _count(env: Mapping[str, str], name: str, default: int, least: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < least:
        raise ConfigError(f"{name} must be a whole number of at least {least}, not {raw!r}.")
    return int(raw)


def _countries(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("SMS_ALLOWED_COUNTRIES", "").strip()
    if not raw:
        return AbuseSettings.sms_allowed_countries
    codes = tuple(c.strip().upper() for c in raw.split(",") if c.strip())
    for code in codes:
        if len(code) != 2 or not code.isalpha():
            raise ConfigError(
                f"SMS_ALLOWED_COUNTRIES takes two-letter country codes such as US,CA, not {code!r}."
            )
    return codes


def abuse_settings(env: Mapping[str, str]) -> AbuseSettings:
    """The abuse defences' settings; raises ConfigError on a malformed value."""
    defaults = AbuseSettings()
    return AbuseSettings(
        spam_min_fill_seconds=read_seconds(
            env, "SPAM_MIN_FILL_SECONDS", defaults.spam_min_fill_seconds
        ),
        spam_form_max_age_seconds=read_seconds(
            env, "SPAM_FORM_MAX_AGE_SECONDS", defaults.spam_form_max_age_seconds
        ),
        spam_max_links=_count(env, "SPAM_MAX_LINKS", defaults.spam_max_links),
        sms_allowed_countries=_countries(env),
        sms_daily_cap_per_number=_count(
            env, "SMS_DAILY_CAP_PER_NUMBER", defaults.sms_daily_cap_per_number
        ),
        sms_daily_cap_per_prefix=_count(
            env, "SMS_DAILY_CAP_PER_PREFIX", defaults.sms_daily_cap_per_prefix
        ),
        sms_surge_min_per_hour=_count(
            env, "SMS_SURGE_MIN_PER_HOUR", defaults.sms_surge_min_per_hour
        ),
        sms_surge_factor=read_seconds(env, "SMS_SURGE_FACTOR", defaults.sms_surge_factor),
        # 0: every submission is a lead of its own (no returning-lead merge).
        duplicate_window_days=_count(
            env, "DUPLICATE_WINDOW_DAYS", defaults.duplicate_window_days, least=0
        ),
        submissions_per_contact_per_hour=_count(
            env,
            "SUBMISSIONS_PER_CONTACT_PER_HOUR",
            defaults.submissions_per_contact_per_hour,
            least=0,
        ),
    )
