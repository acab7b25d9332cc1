"""Quiet hours per state: when texts may reach a patient, by the state their number is in.

A list of the states with a rule of their own (the federal floor above them, not editable),
and one page per state with a from/until per weekday. Saving, putting a state back to the
shipped rule or dropping its rule goes through domain/compliance/quiet_hour_rules.py, which
refuses any window past the federal one and audits each change.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from intake_service.db import get_db
from intake_service.domain.compliance import quiet_hour_rules as rules
from intake_service.web.admin import bp
from intake_service.web.staff.session import actor, admin_required


def _known(state: str) -> str:
    code = state.upper()
    if code not in rules.state_names():
        abort(404)
    return code


@bp.get("/settings/quiet-hours")
@admin_required
def settings_quiet_hours() -> ResponseReturnValue:
    with get_db().session() as session:
        rows = rules.rows(session)
    listed = {row.code for row in rows}
    return render_template(
        "admin/quiet_hours.html",
        rows=rows,
        federal=rules.summarise(rules.federal_week()),
        addable=[(c, n) for c, n in rules.state_names().items() if c not in listed],
    )


@bp.post("/settings/quiet-hours/add")
@admin_required
def settings_quiet_hours_add() -> ResponseReturnValue:
    state = _known(request.form.get("state", ""))
    return redirect(url_for("admin.settings_quiet_hours_state", state=state))


def _state_page(
    code: str, submitted: dict[str, Any] | None, error: Exception | None, status: int
) -> ResponseReturnValue:
    with get_db().session() as session:
        week = rules.week_of(session, code)
        row = next((r for r in rules.rows(session) if r.code == code), None)
    federal = rules.federal_week()
    shown = []
    for index, day in enumerate(rules.DAYS):
        window = week[index]
        if submitted is not None:
            period = submitted.get(day)
            value = (period[0], period[1]) if period else None
        else:
            value = (f"{window.start:%H:%M}", f"{window.end:%H:%M}") if window else None
        floor = federal[index]
        shown.append((day, rules.DAY_LABELS[index], value, floor))
    return (
        render_template(
            "admin/quiet_hours_state.html",
            code=code,
            name=rules.state_names()[code],
            row=row,
            days=shown,
            federal=rules.summarise(federal),
            error=error,
            error_field=getattr(error, "field", None),
        ),
        status,
    )


@bp.get("/settings/quiet-hours/<state>")
@admin_required
def settings_quiet_hours_state(state: str) -> ResponseReturnValue:
    return _state_page(_known(state), None, None, 200)


def _submitted_days() -> dict[str, tuple[str, str] | None]:
    form = request.form
    return {
        day: (form.get(f"from_{day}", ""), form.get(f"until_{day}", ""))
        if form.get(f"texts_{day}") == "1"
        else None
        for day in rules.DAYS
    }


@bp.post("/settings/quiet-hours/<state>")
@admin_required
def settings_quiet_hours_save(state: str) -> ResponseReturnValue:
    code = _known(state)
    action = request.form.get("action", "save")
    days = _submitted_days()
    try:
        with get_db().transaction() as session:
            if action == "reset":
                change = rules.reset_state(session, code, actor())
            elif action == "remove":
                change = rules.remove_state(session, code, actor())
            else:
                change = rules.set_state(session, code, days, actor())
    except rules.InvalidQuietHours as error:
        return _state_page(code, days, error, 422)
    name = rules.state_names()[code]
    if change is None:
        flash("Nothing changed.")
    else:
        flash(
            f"Saved quiet hours for {name}: every text to its numbers not yet sent keeps "
            "them. The change is in the audit log."
        )
    return redirect(url_for("admin.settings_quiet_hours"), code=303)
