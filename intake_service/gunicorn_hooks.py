"""gunicorn's server hooks: `gunicorn -c python:intake_service.gunicorn_hooks ...`.

With PROMETHEUS_MULTIPROC_DIR set, every gunicorn worker counts into files of its own there; when
one exits (max-requests, a timeout, a crash) its live gauges must stop being added up.
"""

from __future__ import annotations

from typing import Any

from intake_service import metrics
from intake_service.config import Settings

# Read once, in the arbiter: the same environment its workers read.
_MULTIPROC_DIR = Settings.from_env().operations.multiproc_dir


def child_exit(server: Any, worker: Any) -> None:
    metrics.mark_process_dead(worker.pid, _MULTIPROC_DIR)
