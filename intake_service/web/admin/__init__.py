"""The admin app (templates, failed messages, users, sequences, routing, settings, spam and
texting, data requests, audit): admins only.

Every view is behind the staff app's sign-in and `admin_required`; the pages reuse the staff
layout. Each area is one module; `init_app` registers them and the account-link pages.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.domain.clinic_settings import ClinicProfile, effective_clinic
from intake_service.domain.templates.versions import Author
from intake_service.web.staff import clinic_zone_name, local_time
from intake_service.web.staff.session import admin_required, me
from intake_service.web.unstorable_input import refuse_nul

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    static_folder="static",
    static_url_path="/static",
)
bp.before_request(refuse_nul)  # PostgreSQL cannot store a NUL (web/unstorable_input.py)

SECTIONS = (
    ("admin.template_list", "Templates", "What every patient and team message says."),
    (
        "admin.failed_list",
        "Failed messages",
        "Messages that could not be delivered: retry or dismiss.",
    ),
    ("admin.user_list", "Users", "Invite staff, change roles, disable accounts, reset passwords."),
    ("admin.sequence_list", "Sequences", "When each follow-up goes, per treatment."),
    (
        "admin.routing_page",
        "Routing",
        "Queues and their members, and the rules that give each new lead to one.",
    ),
    (
        "admin.settings_page",
        "Clinic settings",
        "Name, phone, address, time zone, opening hours, first-contact deadlines, quiet hours "
        "per state, embedding sites, logo, colour.",
    ),
    (
        "admin.abuse_page",
        "Spam and texting",
        "The spam block list; texting paused after a surge (SMS pumping).",
    ),
    (
        "admin.data_requests_page",
        "Data requests",
        "Find a person's lead; export everything held, or delete it.",
    ),
    ("admin.audit_page", "Audit log", "Who saw or changed what, and when."),
)
# The admin pages run only their own scripts; the template preview's frame is sandboxed on
# top of this. Inline styles stay allowed because previewed emails carry them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def settings() -> Settings:
    value: Settings = current_app.extensions["intake.settings"]
    return value


def author() -> Author:
    """The signed-in admin, as template and sequence versions record them."""
    user = me()
    return Author(user.id, user.email)


def clinic(session: Session) -> ClinicProfile:
    return effective_clinic(session, settings())


@bp.context_processor
def _sections() -> dict[str, Any]:
    return {
        "admin_sections": SECTIONS,
        "local_time": local_time,
        "clinic_zone": clinic_zone_name(),
    }


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.get("/")
@admin_required
def index() -> ResponseReturnValue:
    return render_template("admin/index.html")


def init_app(app: Flask) -> None:
    from intake_service.web.admin import (  # noqa: F401
        abuse,
        account_links,
        audit_log,
        data_requests,
        messages,
        quiet_hours,
        routing,
        sequences,
        settings_page,
        templates_editor,
        users,
    )

    app.register_blueprint(bp)
    app.register_blueprint(account_links.bp)
