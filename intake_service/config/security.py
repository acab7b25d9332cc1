"""Settings of the doors and the keeping: who may frame or call us, how long data is kept.

Read from the environment here, beside the rest of config/, so `Settings.from_env` stays the one
reader; an admin may later override the retention days in the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from intake_service.config.readers import ConfigError

# Spam carries names and numbers nobody asked us to keep; a month is long enough to spot a
# pattern. Closed leads keep their health fields a year, for a patient who comes back.
DEFAULT_SPAM_DAYS = 30
DEFAULT_CLOSED_DAYS = 365


@dataclass(frozen=True)
class SecuritySettings:
    # Origins (scheme://host[:port]) allowed to put the embedded forms (/embed/...) in an iframe.
    embed_origins: tuple[str, ...] = ()
    # Origins whose pages may call the JSON API from a browser (CORS).
    cors_origins: tuple[str, ...] = ()
    # Keys the blind index of phones and emails; None derives it from SECRET_KEY.
    blind_index_key: str | None = None
    # Days before spam leads are deleted, and before closed leads lose their health fields;
    # 0 keeps them for ever.
    retention_spam_days: int = DEFAULT_SPAM_DAYS
    retention_closed_days: int = DEFAULT_CLOSED_DAYS


def read_origins(name: str, listed: str) -> tuple[str, ...]:
    """A comma-separated list of exact origins; a path, a wildcard or a bare host is refused."""
    origins = []
    for raw in listed.split(","):
        value = raw.strip().rstrip("/")
        if not value:
            continue
        parts = urlsplit(value)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or "*" in value
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username
            or not port_ok
        ):
            raise ConfigError(
                f"{name} holds {value!r}; list origins such as https://clinic.example "
                "(scheme and host, optional port, no path or wildcard), separated by commas."
            )
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(dict.fromkeys(origins))


def security_settings(env: Mapping[str, str], production: bool) -> SecuritySettings:
    blind_index_key = env.get("BLIND_INDEX_KEY", "").strip() or None
    if blind_index_key is not None and len(blind_index_key) < 32:
        raise ConfigError("BLIND_INDEX_KEY must be at least 32 characters long.")
    embed = read_origins("EMBED_ORIGINS", env.get("EMBED_ORIGINS", ""))
    cors = read_origins("CORS_ORIGINS", env.get("CORS_ORIGINS", ""))
    if production:
        for name, origins in (("EMBED_ORIGINS", embed), ("CORS_ORIGINS", cors)):
            plain = [o for o in origins if o.startswith("http://")]
            if plain:
                raise ConfigError(
                    f"{name} must list https:// origins in production, not {plain[0]}."
                )
    return SecuritySettings(
        embed_origins=embed,
        cors_origins=cors,
        blind_index_key=blind_index_key,
        retention_spam_days=_days(
            "RETENTION_SPAM_DAYS", env.get("RETENTION_SPAM_DAYS", ""), DEFAULT_SPAM_DAYS
        ),
        retention_closed_days=_days(
            "RETENTION_CLOSED_DAYS", env.get("RETENTION_CLOSED_DAYS", ""), DEFAULT_CLOSED_DAYS
        ),
    )


def _days(name: str, raw: str, default: int) -> int:
    raw = raw.strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 36500:
        raise ConfigError(f"{name} must be a whole number of days (0 keeps for ever), not {raw!r}.")
    return int(raw)
