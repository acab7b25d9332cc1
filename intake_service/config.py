"""Typed settings, read from the environment in one place and validated at start-up.

Everything the service can be told lives here. `Settings.from_env` is called by `create_app`;
nothing else reads `os.environ`. A malformed value, or a value production needs and lacks,
raises `ConfigError` with one sentence a person can act on.
"""

from __future__ import annotations

import math
import os
import secrets
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import Fernet
from dotenv import dotenv_values
from email_validator import EmailNotValidError, validate_email


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


ENVIRONMENTS = ("development", "production", "test")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    ssl: bool  # implicit TLS (smtps://)
    starttls: bool
    timeout: float
    cafile: str | None = None  # CA bundle trusted instead of the system one (private relay, tests)


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str | None
    messaging_service_sid: str | None
    api_base_url: str
    timeout: float


@dataclass(frozen=True)
class DeliverySettings:
    """How hard and how long delivery tries; all in seconds except max_attempts."""

    max_attempts: int
    max_age: float  # a message older than this is not worth sending any more
    backoff_base: float
    backoff_cap: float
    # A message left in `sending` longer than this lost its worker; it is reconciled with the
    # provider, then sent or adopted. Must outlast the slowest send (channel timeouts).
    stale_after: float
    requeue_after: float  # a `queued` id older than this lost its broker copy; queue it again


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
    twilio_auth_token: str | None  # also needed to check webhook signatures
    ratelimit_submissions: str
    ratelimit_storage_uri: str
    task_queue: str
    outbox_republish_after: float  # seconds before an untaken outbox event is published again
    dispatch_interval: float  # seconds between scheduler ticks
    delivery: DeliverySettings
    ratelimit_enabled: bool
    trusted_proxies: int  # reverse proxies in front of the web tier whose X-Forwarded-* to trust

    @property
    def embedded(self) -> bool:
        """True when running on the embedded default (SQLite and the SQL broker)."""
        return self.database_url.startswith("sqlite") or self.broker_url.startswith("sqla+")

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

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
        _check_url("DATABASE_URL", database_url, ("sqlite", "postgresql", "postgresql+psycopg"))
        if database_url.startswith("postgres://"):
            raise ConfigError("DATABASE_URL must start with postgresql://, not postgres://.")
        if database_url.startswith("postgresql://"):
            # Name the driver we ship rather than relying on SQLAlchemy's psycopg2 default.
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

        broker_url = required_in_production("CELERY_BROKER_URL") or (
            f"sqla+sqlite:///{instance_path / 'broker.sqlite'}"
        )
        _check_url("CELERY_BROKER_URL", broker_url, ("redis", "rediss", "sqla+sqlite", "amqp"))

        secret_key = required_in_production("SECRET_KEY") or _dev_secret(
            instance_path, "secret_key", lambda: secrets.token_urlsafe(32)
        )
        if production and len(secret_key) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters long.")

        keys_raw = required_in_production("FIELD_ENCRYPTION_KEYS") or _dev_secret(
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
        _check_url("PUBLIC_BASE_URL", public_base_url, ("http", "https"))
        public_base_url = public_base_url.rstrip("/")

        mail_from = required_in_production("MAIL_FROM") or "Intake <intake@clinic.example>"
        _check_address("MAIL_FROM", mail_from)
        team_raw = required_in_production("TEAM_EMAILS") or "team@clinic.example"
        team_emails = tuple(a.strip() for a in team_raw.split(",") if a.strip())
        for address in team_emails:
            _check_address("TEAM_EMAILS", address)

        clinic_timezone = env.get("CLINIC_TIMEZONE", "America/Los_Angeles").strip()
        try:
            zoneinfo.ZoneInfo(clinic_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"CLINIC_TIMEZONE must be an IANA zone such as America/New_York, "
                f"not {clinic_timezone!r}."
            ) from None

        twilio_token = env.get("TWILIO_AUTH_TOKEN", "").strip() or None
        smtp = _smtp_settings(env.get("SMTP_URL", "").strip(), env)
        twilio = _twilio_settings(env)
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
            field_encryption_keys=keys,
            smtp=smtp,
            twilio=twilio,
            twilio_auth_token=twilio_token,
            ratelimit_submissions=env.get("RATELIMIT_SUBMISSIONS", "30 per minute;300 per hour"),
            ratelimit_storage_uri=env.get("RATELIMIT_STORAGE_URI", "memory://"),
            task_queue=env.get("CELERY_QUEUE", "intake"),
            outbox_republish_after=_float(env, "OUTBOX_REPUBLISH_AFTER", 30.0),
            dispatch_interval=_float(env, "DISPATCH_INTERVAL", 5.0),
            delivery=_delivery_settings(env, smtp, twilio),
            # Tests switch the limiter on where they test it; everywhere else it is on.
            ratelimit_enabled=_flag(env, "RATELIMIT_ENABLED", default=app_env != "test"),
            trusted_proxies=_count(env, "TRUSTED_PROXIES"),
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name} must be true or false, not {raw!r}.")
    return raw in ("true", "1", "yes")


def _count(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, "").strip() or "0"
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), not {raw!r}.")
    return int(raw)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a finite number greater than zero, not {raw!r}.")
    return value


def _delivery_settings(
    env: Mapping[str, str], smtp: SmtpSettings | None, twilio: TwilioSettings | None
) -> DeliverySettings:
    raw_attempts = env.get("DELIVERY_MAX_ATTEMPTS", "").strip() or "8"
    if not raw_attempts.isdigit() or int(raw_attempts) < 1:
        raise ConfigError(
            f"DELIVERY_MAX_ATTEMPTS must be a whole number of at least 1, not {raw_attempts!r}."
        )
    delivery = DeliverySettings(
        max_attempts=int(raw_attempts),
        max_age=_float(env, "DELIVERY_MAX_AGE", 48 * 3600.0),
        backoff_base=_float(env, "DELIVERY_BACKOFF_BASE", 10.0),
        backoff_cap=_float(env, "DELIVERY_BACKOFF_CAP", 1800.0),
        stale_after=_float(env, "DELIVERY_STALE_AFTER", 180.0),
        requeue_after=_float(env, "DELIVERY_REQUEUE_AFTER", 120.0),
    )
    # A send still in progress must never look abandoned, or it could be sent twice.
    slowest = max([1.0] + [s.timeout for s in (smtp, twilio) if s is not None])
    if delivery.stale_after < 2 * slowest:
        raise ConfigError(
            f"DELIVERY_STALE_AFTER must be at least twice the slowest channel timeout "
            f"({2 * slowest:g} seconds)."
        )
    return delivery


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> None:
    scheme = urlsplit(value).scheme
    if scheme not in schemes and not (name == "DATABASE_URL" and scheme == "postgres"):
        raise ConfigError(f"{name} must be a URL starting with one of {', '.join(schemes)}://.")


def _check_address(name: str, value: str) -> None:
    from email.utils import parseaddr

    _, address = parseaddr(value)
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise ConfigError(f"{name} holds {value!r}, which is not an email address.") from None


def _smtp_settings(url: str, env: Mapping[str, str]) -> SmtpSettings | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            "SMTP_URL must look like smtp://user:pass@host:587?starttls=true or smtps://host:465."
        )
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    ssl = parts.scheme == "smtps"
    starttls = query.get("starttls", "false") in ("1", "true", "yes")
    if ssl and starttls:
        raise ConfigError("SMTP_URL cannot ask for both smtps:// and starttls=true.")
    try:
        port = parts.port or (465 if ssl else 587 if starttls else 25)
    except ValueError:
        raise ConfigError("SMTP_URL has a port that is not a number.") from None
    from urllib.parse import unquote

    # Read raw: the other options are lower-cased above, and a file path is case-sensitive.
    cafile = (parse_qs(parts.query).get("cafile") or [""])[-1].strip() or None
    if cafile is not None and not Path(cafile).is_file():
        raise ConfigError(f"SMTP_URL names cafile={cafile}, which is not a file.")
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=ssl,
        starttls=starttls,
        timeout=_float(env, "SMTP_TIMEOUT", 10.0),
        cafile=cafile,
    )


def _twilio_settings(env: Mapping[str, str]) -> TwilioSettings | None:
    sid = env.get("TWILIO_ACCOUNT_SID", "").strip()
    token = env.get("TWILIO_AUTH_TOKEN", "").strip()
    from_number = env.get("TWILIO_FROM_NUMBER", "").strip() or None
    service_sid = env.get("TWILIO_MESSAGING_SERVICE_SID", "").strip() or None
    if not (sid or from_number or service_sid):
        return None
    if not sid or not token:
        raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set together.")
    if not sid.startswith("AC"):
        raise ConfigError("TWILIO_ACCOUNT_SID must start with AC.")
    if not (from_number or service_sid):
        raise ConfigError(
            "Set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID to send texts with Twilio."
        )
    if from_number and not from_number.startswith("+"):
        raise ConfigError("TWILIO_FROM_NUMBER must be in E.164 form, such as +13105550123.")
    base = env.get("TWILIO_API_BASE_URL", "").strip() or "https://api.twilio.com"
    _check_url("TWILIO_API_BASE_URL", base, ("http", "https"))
    return TwilioSettings(
        account_sid=sid,
        auth_token=token,
        from_number=from_number,
        messaging_service_sid=service_sid,
        api_base_url=base.rstrip("/"),
        timeout=_float(env, "TWILIO_TIMEOUT", 10.0),
    )


def _dev_secret(instance_path: Path, name: str, make: Any) -> str:
    """Outside production, generate a secret once and keep it in the instance folder.

    Kept on disk so a restart can still read what was encrypted and signed before it.
    """
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value: str = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value
