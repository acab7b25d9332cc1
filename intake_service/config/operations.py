"""Settings of running the service: the /metrics token, the log format, the metrics folder.

Read from the environment here, beside the rest of config/, so `Settings.from_env` stays the one
reader. prometheus-client reads PROMETHEUS_MULTIPROC_DIR itself as well (that is its contract);
it is read here too so that a folder that is missing or not writable stops the start with a
sentence instead of failing at the first counter.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from intake_service.config.readers import ConfigError

LOG_FORMATS = ("json", "plain")
# A bearer token is compared in constant time; a short one can still be guessed.
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class OperationsSettings:
    # `Authorization: Bearer <token>` opens /metrics; None leaves it open (not in production).
    metrics_token: str | None = None
    # One JSON object per line (production's default) or plain text (everywhere else).
    log_format: str = "plain"
    # Where the processes of one host (gunicorn workers, Celery worker processes) keep their
    # counters for /metrics to add up (prometheus-client's multiprocess mode); None: in memory.
    multiproc_dir: Path | None = None


def operations_settings(env: Mapping[str, str], production: bool) -> OperationsSettings:
    token = env.get("METRICS_TOKEN", "").strip() or None
    if production and token is None:
        raise ConfigError(
            "METRICS_TOKEN must be set when APP_ENV=production: /metrics is served only to a "
            "scraper that sends `Authorization: Bearer <METRICS_TOKEN>`."
        )
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"METRICS_TOKEN must be at least {MIN_TOKEN_CHARS} characters long.")
    log_format = env.get("LOG_FORMAT", "").strip().lower() or ("json" if production else "plain")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be json or plain, not {log_format!r}.")
    raw_dir = env.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    multiproc_dir = Path(raw_dir) if raw_dir else None
    if multiproc_dir is not None and not (
        multiproc_dir.is_dir() and os.access(multiproc_dir, os.W_OK | os.X_OK)
    ):
        raise ConfigError(
            f"PROMETHEUS_MULTIPROC_DIR is {raw_dir!r}, which is not a writable folder; create it "
            "(empty, at every start: a tmpfs) or unset it to keep metrics in memory."
        )
    return OperationsSettings(token, log_format, multiproc_dir)
