"""Readers of single settings: each returns a typed value or raises ConfigError (one sentence)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


def read_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name} must be true or false, not {raw!r}.")
    return raw in ("true", "1", "yes")


def read_count(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, "").strip() or "0"
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), not {raw!r}.")
    return int(raw)


def read_pairs(name: str, raw: str) -> dict[str, str]:
    """ "a=1,b=2" as {"a": "1", "b": "2"}; raises ConfigError naming the bad entry."""
    pairs: dict[str, str] = {}
    for position, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{name} entry {position} must look like source=secret.")
        pairs[key.strip().lower()] = value.strip()
    return pairs


def read_seconds(env: Mapping[str, str], name: str, default: float) -> float:
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


def check_url(name: str, value: str, schemes: tuple[str, ...]) -> None:
    scheme = urlsplit(value).scheme
    if scheme not in schemes and not (name == "DATABASE_URL" and scheme == "postgres"):
        raise ConfigError(f"{name} must be a URL starting with one of {', '.join(schemes)}://.")


# Storage every web process shares (the limits library's schemes); memory:// is per process.
SHARED_RATELIMIT_SCHEMES = (
    "redis",
    "rediss",
    "redis+unix",
    "redis+cluster",
    "redis+sentinel",
    "memcached",
    "mongodb",
    "mongodb+srv",
)


def ratelimit_storage(env: Mapping[str, str], broker_url: str, must_be_shared: bool) -> str:
    """Where rate-limit counters live: RATELIMIT_STORAGE_URI, else the broker's Redis when it
    has one, else memory:// (the embedded default, one process).

    When `must_be_shared` (production with the limiter on), memory:// is refused: each gunicorn
    worker would count apart, and a client would get the limit once per worker.
    """
    value = env.get("RATELIMIT_STORAGE_URI", "").strip()
    if not value:
        redis_broker = urlsplit(broker_url).scheme in ("redis", "rediss")
        value = broker_url if redis_broker else "memory://"
    if must_be_shared and urlsplit(value).scheme not in SHARED_RATELIMIT_SCHEMES:
        raise ConfigError(
            "RATELIMIT_STORAGE_URI must name storage all web processes share, such as "
            "redis://host:6379/1, when APP_ENV=production (memory:// counts each process apart)."
        )
    return value


def check_address(name: str, value: str) -> None:
    from email.utils import parseaddr

    _, address = parseaddr(value)
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise ConfigError(f"{name} holds {value!r}, which is not an email address.") from None


def dev_secret(instance_path: Path, name: str, make: Any) -> str:
    """Outside production, generate a secret once and keep it in the instance folder.

    Kept on disk so a restart can still read what was encrypted and signed before it.
    """
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    value: str = make()
    # 0600 in a 0700 folder from the first byte: never, even for an instant, readable by others.
    instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return value
