"""Typed settings, read from the environment in one place and validated at start-up.

Everything the service can be told lives here. `Settings.from_env` is called by `create_app`;
nothing else reads `os.environ`. A malformed value, or a value production needs and lacks,
raises `ConfigError` with one sentence a person can act on.
"""

from __future__ import annotations

import os
import secrets
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet
from dotenv import dotenv_values

from intake_service.config.abuse import AbuseSettings, abuse_settings
from intake_service.config.escalation import EscalationSettings, escalation_settings
from intake_service.config.operations import OperationsSettings, operations_settings
from intake_service.config.providers import (
    DeliverySettings,
    SmtpSettings,
    TwilioSettings,
    delivery_settings,
    sms_pace,
    smtp_settings,
    twilio_settings,
)
from intake_service.config.readers import (
    ConfigError,
    check_address,
    check_url,
    dev_secret,
    ratelimit_storage,
    read_count,
    read_flag,
    read_pairs,
    read_seconds,
)
from intake_service.config.security import SecuritySettings, security_settings

ENVIRONMENTS = ("development", "production", "test")


@dataclass(frozen=True)
class Settings:
    app_env: str
    secret_key: str
    database_url: str
    broker_url: str
    instance_path: Path
    public_base_url: str
    mail_from: str
    team_emails: tuple[str, ...]
    on_call_phone: str | None
    clinic_name: str
    clinic_phone: str
    clinic_address: str
    clinic_timezone: str
    field_encryption_keys: tuple[str, ...]
    smtp: SmtpSettings | None
    twilio: TwilioSettings | None
    sms_enabled: bool  # false: no text is planned at all (SMS_ENABLED=false)
    # Texts wait for the recipient's local window; off only for test suites run at any hour.
    quiet_hours_enabled: bool
    twilio_auth_token: str | None  # also needed to check webhook signatures
    # Twilio Advanced Opt-Out answers STOP, START and HELP itself; the service then stays quiet.
    twilio_advanced_opt_out: bool
    reply_to: str  # Reply-To of patient emails: replies reach the team, not a no-reply box
    ratelimit_submissions: str
    ratelimit_storage_uri: str
    task_queue: str
    outbox_republish_after: float  # seconds before an untaken outbox event is first republished
    dispatch_interval: float  # seconds between scheduler ticks
    delivery: DeliverySettings
    ratelimit_enabled: bool
    trusted_proxies: int  # reverse proxies in front of the web tier whose X-Forwarded-* to trust
    staff_idle_minutes: int = 30  # a staff session left alone this long signs itself out
    # Seconds a client may leave between two pieces of a request body (web/slow_clients.py);
    # below gunicorn's --timeout, so a stalled body ends in a 408 rather than a killed worker.
    body_read_timeout: float = 10.0
    on_call_email: str | None = None
    # An urgent lead nobody acknowledged is paged again, to the whole team, this often.
    urgent_repage_minutes: float = 10.0
    # Framing, CORS, the blind-index key and retention (config/security.py).
    security: SecuritySettings = field(default_factory=SecuritySettings)
    # Shown on every public page beside the phone and address (free text, the clinic's words).
    clinic_hours: str = "Monday to Friday, 9 am to 5 pm"
    # What the thank-you page promises about the first call: a promise the team can keep.
    clinic_first_contact: str = "We'll call you within one business day."
    # The language of the public pages for a visitor whose browser asks for none we have.
    clinic_locale: str = "en"
    # Each form builder's secret (FORM_WEBHOOK_SECRETS "gravity=...,typeform=..."): a source
    # without one is refused, so an unconfigured builder can never post leads.
    form_webhook_secrets: Mapping[str, str] = field(default_factory=dict)
    # Spam, SMS pumping and returning-lead settings (config/abuse.py).
    abuse: AbuseSettings = field(default_factory=AbuseSettings)
    escalation: EscalationSettings = field(default_factory=EscalationSettings)
    # The /metrics token, the log format and the metrics folder (config/operations.py).
    operations: OperationsSettings = field(default_factory=OperationsSettings)

    @property
    def embedded(self) -> bool:
        """True when running on the embedded default (SQLite and the SQL broker)."""
        return self.database_url.startswith("sqlite") or self.broker_url.startswith("sqla+")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment; raises ConfigError on a bad or missing value.

        With no mapping given, a .env file in the working directory is read too; variables
        already in the environment win over it.
        """
        if environ is None:
            file_values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
            env = {**file_values, **os.environ}
        else:
            env = dict(environ)
        app_env = env.get("APP_ENV", "development").strip().lower()
        if app_env not in ENVIRONMENTS:
            raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {app_env!r}.")
        production = app_env == "production"

        def required_in_production(name: str) -> str | None:
            value = env.get(name, "").strip() or None
            if production and value is None:
                raise ConfigError(f"{name} must be set when APP_ENV=production.")
            return value

        instance_path = Path(env.get("INSTANCE_PATH", "instance")).resolve()

        database_url = required_in_production("DATABASE_URL") or (
            f"sqlite:///{instance_path / 'intake.sqlite'}"
        )
        check_url("DATABASE_URL", database_url, ("sqlite", "postgresql", "postgresql+psycopg"))
        if database_url.startswith("postgres://"):
            raise ConfigError("DATABASE_URL must start with postgresql://, not postgres://.")
        if database_url.startswith("postgresql://"):
            # Name the driver we ship rather than relying on SQLAlchemy's psycopg2 default.
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

        broker_url = required_in_production("CELERY_BROKER_URL") or (
            f"sqla+sqlite:///{instance_path / 'broker.sqlite'}"
        )
        check_url("CELERY_BROKER_URL", broker_url, ("redis", "rediss", "sqla+sqlite", "amqp"))

        secret_key = required_in_production("SECRET_KEY") or dev_secret(
            instance_path, "secret_key", lambda: secrets.token_urlsafe(32)
        )
        if production and len(secret_key) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters long.")

        keys_raw = required_in_production("FIELD_ENCRYPTION_KEYS") or dev_secret(
            instance_path, "field_encryption_key", lambda: Fernet.generate_key().decode()
        )
        keys = tuple(k.strip() for k in keys_raw.split(",") if k.strip())
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                raise ConfigError(
                    f"FIELD_ENCRYPTION_KEYS entry {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes)."
                ) from None

        public_base_url = required_in_production("PUBLIC_BASE_URL") or "http://127.0.0.1:5000"
        check_url("PUBLIC_BASE_URL", public_base_url, ("http", "https"))
        public_base_url = public_base_url.rstrip("/")

        mail_from = required_in_production("MAIL_FROM") or "Intake <intake@clinic.example>"
        check_address("MAIL_FROM", mail_from)
        team_raw = required_in_production("TEAM_EMAILS") or "team@clinic.example"
        team_emails = tuple(a.strip() for a in team_raw.split(",") if a.strip())
        for address in team_emails:
            check_address("TEAM_EMAILS", address)

        clinic_locale = env.get("CLINIC_LOCALE", "en").strip().lower() or "en"
        if clinic_locale not in ("en", "es"):
            raise ConfigError(f"CLINIC_LOCALE must be en or es, not {clinic_locale!r}.")
        reply_to = env.get("REPLY_TO", "").strip() or ", ".join(team_emails)
        for address in reply_to.split(","):
            check_address("REPLY_TO", address.strip())

        clinic_timezone = env.get("CLINIC_TIMEZONE", "America/Los_Angeles").strip()
        try:
            zoneinfo.ZoneInfo(clinic_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"CLINIC_TIMEZONE must be an IANA zone such as America/New_York, "
                f"not {clinic_timezone!r}."
            ) from None

        twilio_token = env.get("TWILIO_AUTH_TOKEN", "").strip() or None
        # Without a relay every email would land in the dev mailbox, marked sent, unseen.
        smtp = smtp_settings(required_in_production("SMTP_URL") or "", env)
        twilio = twilio_settings(env)
        sms_enabled = read_flag(env, "SMS_ENABLED", default=True)
        quiet_hours_enabled = read_flag(env, "QUIET_HOURS_ENABLED", default=True)
        if production and sms_enabled and twilio is None:
            raise ConfigError(
                "Set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER (or "
                "TWILIO_MESSAGING_SERVICE_SID) when APP_ENV=production, or SMS_ENABLED=false "
                "to send no texts."
            )
        ratelimit_enabled = read_flag(env, "RATELIMIT_ENABLED", default=app_env != "test")
        ratelimit_storage_uri = ratelimit_storage(env, broker_url, production and ratelimit_enabled)
        dispatch_interval = read_seconds(env, "DISPATCH_INTERVAL", 5.0)
        embedded = database_url.startswith("sqlite") or broker_url.startswith("sqla+")
        pace = sms_pace(env, twilio, ratelimit_storage_uri, embedded)
        return cls(
            app_env=app_env,
            secret_key=secret_key,
            database_url=database_url,
            broker_url=broker_url,
            instance_path=instance_path,
            public_base_url=public_base_url,
            mail_from=mail_from,
            team_emails=team_emails,
            on_call_phone=env.get("ON_CALL_PHONE", "").strip() or None,
            # Patients read these in every message; CAN-SPAM needs the real postal address.
            clinic_name=required_in_production("CLINIC_NAME") or "Sample Clinic",
            clinic_phone=required_in_production("CLINIC_PHONE") or "(555) 010-0000",
            clinic_address=required_in_production("CLINIC_ADDRESS") or "Clinic address not set",
            clinic_timezone=clinic_timezone,
            clinic_hours=env.get("CLINIC_HOURS", "").strip() or "Monday to Friday, 9 am to 5 pm",
            clinic_first_contact=env.get("CLINIC_FIRST_CONTACT", "").strip()
            or "We'll call you within one business day.",
            clinic_locale=clinic_locale,
            form_webhook_secrets=read_pairs(
                "FORM_WEBHOOK_SECRETS", env.get("FORM_WEBHOOK_SECRETS", "")
            ),
            field_encryption_keys=keys,
            smtp=smtp,
            twilio=twilio,
            sms_enabled=sms_enabled,
            quiet_hours_enabled=quiet_hours_enabled,
            twilio_auth_token=twilio_token,
            twilio_advanced_opt_out=read_flag(env, "TWILIO_ADVANCED_OPT_OUT", default=False),
            reply_to=reply_to,
            ratelimit_submissions=env.get("RATELIMIT_SUBMISSIONS", "30 per minute;300 per hour"),
            ratelimit_storage_uri=ratelimit_storage_uri,
            task_queue=env.get("CELERY_QUEUE", "intake"),
            outbox_republish_after=read_seconds(env, "OUTBOX_REPUBLISH_AFTER", 30.0),
            dispatch_interval=dispatch_interval,
            delivery=delivery_settings(env, smtp, twilio, pace, dispatch_interval),
            # Tests switch the limiter on where they test it; everywhere else it is on.
            ratelimit_enabled=ratelimit_enabled,
            trusted_proxies=read_count(env, "TRUSTED_PROXIES"),
            staff_idle_minutes=max(1, read_count(env, "STAFF_IDLE_MINUTES") or 30),
            body_read_timeout=read_seconds(env, "BODY_READ_TIMEOUT", 10.0),
            on_call_email=_on_call_email(env),
            urgent_repage_minutes=_repage_minutes(env),
            security=security_settings(env, production),
            abuse=abuse_settings(env),
            escalation=escalation_settings(env),
            operations=operations_settings(env, production),
        )


def _on_call_email(env: Mapping[str, str]) -> str | None:
    address = env.get("ON_CALL_EMAIL", "").strip() or None
    if address is not None:
        check_address("ON_CALL_EMAIL", address)
    return address


def _repage_minutes(env: Mapping[str, str]) -> float:
    try:
        return read_seconds(env, "URGENT_REPAGE_MINUTES", 10.0)
    except ConfigError:
        raw = env.get("URGENT_REPAGE_MINUTES", "")
        raise ConfigError(
            f"URGENT_REPAGE_MINUTES must be a number of minutes greater than zero, not {raw!r}."
        ) from None
