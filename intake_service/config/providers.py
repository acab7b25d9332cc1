"""Settings for the outside services a message leaves through, and for how hard delivery tries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from intake_service.config.readers import ConfigError, check_url, read_count, read_seconds


@dataclass(frozen=True)
class SmsPace:
    """At most `rate` texts a second from one sender, counted in storage every worker shares."""

    rate: int
    sender: str  # the from number or Messaging Service SID: the carrier throttles each one
    storage_uri: str  # redis:// (shared) or memory:// (the embedded default's one process)


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
    # A worker process whose heartbeat is older than this is dead: what it held is handed on at
    # once (domain/outreach/liveness.py). At least twice the slowest channel timeout too.
    worker_dead_after: float = 20.0
    # The per-sender text rate (SMS_RATE_PER_SECOND); None: texts are not paced.
    sms_pace: SmsPace | None = None
    # How far ahead the scheduler hands paced texts on, to wait for their slots on a worker:
    # more than one scheduler tick, so no slot passes unclaimed.
    pace_lookahead: float = 10.0


def sms_pace(
    env: Mapping[str, str], twilio: TwilioSettings | None, storage_uri: str, embedded: bool
) -> SmsPace | None:
    """SMS_RATE_PER_SECOND (0 or unset: no pacing), kept where every worker sees the same count."""
    rate = read_count(env, "SMS_RATE_PER_SECOND")
    if rate == 0:
        return None
    if not storage_uri.startswith(("redis://", "rediss://")) and not (
        embedded and storage_uri.startswith("memory://")
    ):
        raise ConfigError(
            "SMS_RATE_PER_SECOND needs Redis every worker shares: a redis:// CELERY_BROKER_URL "
            "or RATELIMIT_STORAGE_URI (only the embedded default may count in memory)."
        )
    sender = "dev-outbox"
    if twilio is not None:
        sender = twilio.messaging_service_sid or twilio.from_number or twilio.account_sid
    return SmsPace(rate, sender, storage_uri)


def delivery_settings(
    env: Mapping[str, str],
    smtp: SmtpSettings | None,
    twilio: TwilioSettings | None,
    pace: SmsPace | None = None,
    dispatch_interval: float = 5.0,
) -> DeliverySettings:
    raw_attempts = env.get("DELIVERY_MAX_ATTEMPTS", "").strip() or "8"
    if not raw_attempts.isdigit() or int(raw_attempts) < 1:
        raise ConfigError(
            f"DELIVERY_MAX_ATTEMPTS must be a whole number of at least 1, not {raw_attempts!r}."
        )
    delivery = DeliverySettings(
        max_attempts=int(raw_attempts),
        max_age=read_seconds(env, "DELIVERY_MAX_AGE", 48 * 3600.0),
        backoff_base=read_seconds(env, "DELIVERY_BACKOFF_BASE", 10.0),
        backoff_cap=read_seconds(env, "DELIVERY_BACKOFF_CAP", 1800.0),
        stale_after=read_seconds(env, "DELIVERY_STALE_AFTER", 180.0),
        requeue_after=read_seconds(env, "DELIVERY_REQUEUE_AFTER", 120.0),
        sms_pace=pace,
        pace_lookahead=max(2.0, 2 * dispatch_interval),
    )
    # A send still in progress must never look abandoned, or it could be sent twice.
    slowest = max([1.0] + [s.timeout for s in (smtp, twilio) if s is not None])
    # Unset, it follows slow channels up, so that raising a timeout alone never refuses to start.
    delivery = replace(
        delivery,
        worker_dead_after=read_seconds(env, "DELIVERY_WORKER_DEAD_AFTER", max(20.0, 2 * slowest)),
    )
    if delivery.stale_after < 2 * slowest:
        raise ConfigError(
            f"DELIVERY_STALE_AFTER must be at least twice the slowest channel timeout "
            f"({2 * slowest:g} seconds)."
        )
    if delivery.worker_dead_after < 2 * slowest:
        raise ConfigError(
            f"DELIVERY_WORKER_DEAD_AFTER must be at least twice the slowest channel timeout "
            f"({2 * slowest:g} seconds)."
        )
    return delivery


def smtp_settings(url: str, env: Mapping[str, str]) -> SmtpSettings | None:
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
        timeout=read_seconds(env, "SMTP_TIMEOUT", 10.0),
        cafile=cafile,
    )


def twilio_settings(env: Mapping[str, str]) -> TwilioSettings | None:
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
    check_url("TWILIO_API_BASE_URL", base, ("http", "https"))
    return TwilioSettings(
        account_sid=sid,
        auth_token=token,
        from_number=from_number,
        messaging_service_sid=service_sid,
        api_base_url=base.rstrip("/"),
        timeout=read_seconds(env, "TWILIO_TIMEOUT", 10.0),
    )
