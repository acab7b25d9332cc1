"""Clinic settings: stored in the database over the environment's defaults, each change audited.

Forms on one page, each saving only its own fields: who the clinic is (name, phone, address,
time zone, what the team email may carry); opening hours and times to first contact; the sites
that may embed the forms; the public pages' colour; their logo (an upload of its own). Quiet
hours per state have their own pages (quiet_hours.py), summarised here.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from intake_service.config.escalation import DAYS
from intake_service.db import get_db
from intake_service.domain import branding, clinic_settings
from intake_service.domain.clinic_hours import DAY_NAMES
from intake_service.domain.compliance import quiet_hour_rules
from intake_service.web.admin import bp, clinic, settings
from intake_service.web.staff.session import actor, admin_required

# Offered in a list; any IANA zone typed in is accepted too.
US_ZONES = sorted(
    z
    for z in zoneinfo.available_timezones()
    if z.startswith("America/") or z.startswith("Pacific/Honolulu")
)


def _page(submitted: dict[str, Any], error: Exception | None, status: int) -> ResponseReturnValue:
    """The page with every form; `submitted` (what was typed) shown over the stored values."""
    with get_db().session() as session:
        profile = clinic(session)
        logo = branding.current_logo(session)
        quiet_states = quiet_hour_rules.rows(session)
    values = {f: profile.value(f) for f in clinic_settings.FIELDS} | submitted
    if isinstance(values["embed_origins"], list):
        values["embed_origins"] = "\n".join(values["embed_origins"])
    colour = profile.brand_color
    return (
        render_template(
            "admin/settings.html",
            values=values,
            profile=profile,
            defaults=clinic_settings.defaults(settings()),
            labels=clinic_settings.LABELS,
            extras=clinic_settings.TEAM_EMAIL_EXTRAS,
            ranges=clinic_settings.DEADLINE_RANGES,
            error=error,
            error_field=getattr(error, "field", None),
            error_group=_group(getattr(error, "field", None)),
            zones=US_ZONES,
            days=list(zip(DAYS, DAY_NAMES, strict=True)),
            logo=logo,
            max_logo_kib=branding.MAX_LOGO_BYTES // 1024,
            colour=colour,
            contrast=branding.contrast_with_white(colour) if colour else None,
            min_contrast=branding.MIN_CONTRAST,
            quiet_states=quiet_states,
        ),
        status,
    )


def _group(field: str | None) -> str | None:
    """Which form an error belongs to, so it shows beside that form."""
    if field is None:
        return None
    if field == "logo" or field in clinic_settings.LOOK_FIELDS:
        return "look"
    if field in clinic_settings.EMBED_FIELDS:
        return "embed"
    if field.startswith("hours_") or field in clinic_settings.HOURS_FIELDS:
        return "hours"
    return "clinic"


def _saved(changes: dict[str, Any], anchor: str) -> ResponseReturnValue:
    if changes:
        names = ", ".join(clinic_settings.LABELS[f].lower() for f in changes)
        flash(f"Saved: {names}. The change is in the audit log.")
    else:
        flash("Nothing changed.")
    return redirect(url_for("admin.settings_page") + anchor, code=303)


def _save(submitted: dict[str, Any], anchor: str) -> ResponseReturnValue:
    try:
        with get_db().transaction() as session:
            changes = clinic_settings.update(session, settings(), submitted, actor())
    except clinic_settings.InvalidSetting as error:
        return _page(submitted, error, 422)
    return _saved(changes, anchor)


@bp.get("/settings")
@admin_required
def settings_page() -> ResponseReturnValue:
    return _page({}, None, 200)


@bp.post("/settings")
@admin_required
def settings_save() -> ResponseReturnValue:
    submitted: dict[str, Any] = {
        field: request.form.get(field, "") for field in clinic_settings.TEXT_FIELDS
    }
    for field in clinic_settings.FLAG_FIELDS:
        submitted[field] = request.form.get(field) == "1"
    return _save(submitted, "")


@bp.post("/settings/hours")
@admin_required
def settings_hours() -> ResponseReturnValue:
    form = request.form
    hours = {
        day: [form.get(f"opens_{day}", ""), form.get(f"closes_{day}", "")]
        if form.get(f"open_{day}") == "1"
        else None
        for day in DAYS
    }
    submitted: dict[str, Any] = {"opening_hours": hours}
    for field in clinic_settings.DEADLINE_FIELDS:
        submitted[field] = form.get(field, "")
    return _save(submitted, "#hours")


@bp.post("/settings/look")
@admin_required
def settings_look() -> ResponseReturnValue:
    return _save({"brand_color": request.form.get("brand_color", "")}, "#look")


@bp.post("/settings/embed")
@admin_required
def settings_embed() -> ResponseReturnValue:
    return _save({"embed_origins": request.form.get("embed_origins", "")}, "#embed")


@bp.post("/settings/logo")
@admin_required
def settings_logo() -> ResponseReturnValue:
    upload = request.files.get("logo")
    # One byte past the limit is enough to say it is too large.
    data = upload.stream.read(branding.MAX_LOGO_BYTES + 1) if upload else b""
    try:
        with get_db().transaction() as session:
            branding.store_logo(session, data, actor())
    except branding.InvalidLogo as error:
        return _page({}, _LogoError(str(error)), 422)
    flash("Logo saved: the public pages show it now. The change is in the audit log.")
    return redirect(url_for("admin.settings_page") + "#look", code=303)


@bp.post("/settings/logo/remove")
@admin_required
def settings_logo_remove() -> ResponseReturnValue:
    with get_db().transaction() as session:
        removed = branding.remove_logo(session, actor())
    flash("Logo removed: the pages show the clinic's name." if removed else "There was no logo.")
    return redirect(url_for("admin.settings_page") + "#look", code=303)


class _LogoError(ValueError):
    field = "logo"
