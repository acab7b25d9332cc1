"""Clinic settings: stored in the database over the environment's defaults, each change audited."""

from __future__ import annotations

import zoneinfo

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from intake_service.db import get_db
from intake_service.domain import clinic_settings
from intake_service.web.admin import bp, clinic, settings
from intake_service.web.staff.session import actor, admin_required

# Offered in a list; any IANA zone typed in is accepted too.
US_ZONES = sorted(
    z
    for z in zoneinfo.available_timezones()
    if z.startswith("America/") or z.startswith("Pacific/Honolulu")
)


def _page(
    values: dict[str, str | bool], error: clinic_settings.InvalidSetting | None, status: int
) -> ResponseReturnValue:
    with get_db().session() as session:
        profile = clinic(session)
    return (
        render_template(
            "admin/settings.html",
            values=values,
            profile=profile,
            defaults=clinic_settings.defaults(settings()),
            labels=clinic_settings.LABELS,
            extras=clinic_settings.TEAM_EMAIL_EXTRAS,
            error=error,
            zones=US_ZONES,
        ),
        status,
    )


@bp.get("/settings")
@admin_required
def settings_page() -> ResponseReturnValue:
    with get_db().session() as session:
        profile = clinic(session)
    return _page({f: profile.value(f) for f in clinic_settings.FIELDS}, None, 200)


@bp.post("/settings")
@admin_required
def settings_save() -> ResponseReturnValue:
    submitted: dict[str, str | bool] = {
        field: request.form.get(field, "") for field in clinic_settings.TEXT_FIELDS
    }
    for field in clinic_settings.FLAG_FIELDS:
        submitted[field] = request.form.get(field) == "1"
    try:
        with get_db().transaction() as session:
            changes = clinic_settings.update(session, settings(), submitted, actor())
    except clinic_settings.InvalidSetting as error:
        return _page(submitted, error, 422)
    if changes:
        names = ", ".join(clinic_settings.LABELS[f].lower() for f in changes)
        flash(f"Saved: {names}. The change is in the audit log.")
    else:
        flash("Nothing changed.")
    return redirect(url_for("admin.settings_page"), code=303)
