"""The staff app: sign-in, the live inbox, one page per lead, callbacks and the dashboard."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g
from sqlalchemy.exc import SQLAlchemyError

from intake_service.db import get_db, utcnow
from intake_service.domain.clinic_settings import effective_timezone
from intake_service.domain.intake.contact import display_phone
from intake_service.domain.leads.dashboard import duration_label
from intake_service.domain.leads.inbox import age_label, due_label
from intake_service.domain.templates.message_context import (
    FORM_LABELS,
    TREATMENT_LABELS,
    WINDOW_LABELS,
)
from intake_service.web.unstorable_input import refuse_nul

bp = Blueprint("staff", __name__, static_folder="static", static_url_path="/staff/static")
bp.before_request(refuse_nul)  # PostgreSQL cannot store a NUL (web/unstorable_input.py)

# What an inbound text was, as the timeline and the texts page name it.
REPLY_LABELS = {
    "reply": "Text from the patient",
    "callback": "Asked for a call",
    "crisis": "Crisis words in a text: urgent",
    "opt_out": "Texted STOP: no more texts",
    "opt_in": "Texted START: texts allowed again",
    "help": "Texted HELP",
}

STATUS_LABELS = {
    "new": "New",
    "contacted": "Contacted",
    "booked": "Booked",
    "closed": "Closed",
    "spam": "Spam",
}


_ZONE_KEY = "intake_clinic_zone"


def clinic_zone_name() -> str:
    """The clinic's zone as the admin set it (over CLINIC_TIMEZONE), read once per request; the
    environment's when the database cannot be read (the error page must not fail again)."""
    cached: str | None = g.get(_ZONE_KEY)
    if cached is not None:
        return cached
    settings = current_app.extensions["intake.settings"]
    try:
        with get_db().session() as session:
            name = effective_timezone(session, settings)
    except SQLAlchemyError:
        name = settings.clinic_timezone
    setattr(g, _ZONE_KEY, name)
    return name


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(clinic_zone_name())


def local_time(value: dt.datetime | None, fmt: str = "%a %d %b, %H:%M") -> str:
    """A UTC time in the clinic's zone, as staff read it."""
    if value is None:
        return "—"
    return value.astimezone(_zone()).strftime(fmt)


def ago(value: dt.datetime) -> str:
    return age_label((utcnow() - value).total_seconds())


def due_hint(left: dt.timedelta) -> str:
    return due_label(left.total_seconds())


@bp.app_template_global("now_iso")
def _now_iso() -> str:
    # When the page was rendered: the notification badge counts what is new since then. App-wide,
    # since the admin pages share the staff layout.
    return utcnow().isoformat()


@bp.app_template_filter("phone")
def _phone(value: str | None) -> str:
    return display_phone(value) if value else "—"


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "treatment_labels": TREATMENT_LABELS,
        "window_labels": WINDOW_LABELS,
        "form_labels": FORM_LABELS,
        "status_labels": STATUS_LABELS,
        "reply_labels": REPLY_LABELS,
        "local_time": local_time,
        "ago": ago,
        "due_hint": due_hint,
        "duration": duration_label,
        "clinic_zone": clinic_zone_name(),
    }


@bp.after_request
def _no_store(response: Response) -> Response:
    # Staff pages show health information: keep them out of every cache and the back button.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_app(app: Flask) -> None:
    from intake_service.web.staff import (  # noqa: F401
        auth,
        callbacks,
        dashboard,
        inbox,
        lead,
        messages,
        notifications,
        second_factor,
        texts,
    )
    from intake_service.web.staff.session import init_session

    init_session(app)
