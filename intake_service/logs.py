"""Log lines: plain for a person at a terminal, one JSON object per line in production.

Every line carries the request id (web) and the lead and message ids being handled (web and
tasks), from context variables the web hooks and the tasks set. Those ids are all it adds: a
log line's text is the caller's (ids, forms, channels, statuses by the rules of STYLE.md), and
an exception is logged by its type and where it was raised, never its message, which can hold a
query's parameters (an email, a name).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import traceback
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
lead_id: ContextVar[str | None] = ContextVar("lead_id", default=None)
message_id: ContextVar[int | None] = ContextVar("message_id", default=None)

# An incoming X-Request-ID is kept only if it looks like an id (a proxy's UUID or hex or
# base64url token): anything else (spaces, quotes, an email) is replaced by our own.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s %(message)s"


def accept_request_id(incoming: str | None) -> str:
    """The incoming id when it is sane, else a new one."""
    if incoming and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def bind_lead(value: uuid.UUID | str | None) -> None:
    """Name the lead being handled on every line from here to the end of the request or task."""
    lead_id.set(str(value) if value is not None else None)


@contextlib.contextmanager
def task_scope(
    *, lead: uuid.UUID | str | None = None, message: int | None = None
) -> Iterator[None]:
    """The ids one task handles, for its lines only: a worker process runs many tasks."""
    tokens = (lead_id.set(str(lead) if lead else None), message_id.set(message))
    try:
        yield
    finally:
        lead_id.reset(tokens[0])
        message_id.reset(tokens[1])


class ContextFilter(logging.Filter):
    """Puts the context's ids on every record (None where there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = {
            "request_id": request_id.get(),
            "lead_id": lead_id.get(),
            "message_id": message_id.get(),
        }
        for name, value in ids.items():
            setattr(record, name, value)
        parts = [f"{name}={value}" for name, value in ids.items() if value is not None]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the context's ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "lead_id", "message_id"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            kind, _, trace = record.exc_info
            entry["exc_type"] = kind.__name__
            # Where it was raised (file, line, function), not the message or the source lines.
            entry["exc_trace"] = [
                f"{frame.filename}:{frame.lineno} {frame.name}"
                for frame in traceback.extract_tb(trace)
            ]
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """The plain line, with an exception's type and frames but not its message (as JSON does)."""

    def formatException(self, ei: Any) -> str:
        kind, _, trace = ei
        frames = "".join(traceback.format_list(traceback.extract_tb(trace)))
        return f"Traceback (most recent call last):\n{frames}{kind.__name__}"


def configure(log_format: str) -> None:
    """Set the root logger's one handler to `log_format` ("json" or "plain"); idempotent."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "intake_handler", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.intake_handler = True  # type: ignore[attr-defined]
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter(PLAIN_FORMAT))
    root.setLevel(logging.INFO)
    # Alembic names each of its plugins as it loads them, in every process: nothing to act on.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
