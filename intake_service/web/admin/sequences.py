"""Follow-up sequences: each treatment's steps, added, changed, reordered, disabled; versions."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from intake_service.db import get_db
from intake_service.domain.outreach import sequence_editing as editing
from intake_service.domain.outreach.sequences import InvalidSequence
from intake_service.web.admin import author, bp
from intake_service.web.staff.session import admin_required

CHANNEL_LABELS = {"email": "email", "sms": "text"}


@bp.get("/sequences")
@admin_required
def sequence_list() -> ResponseReturnValue:
    with get_db().session() as session:
        views = editing.overview(session)
        choices = editing.template_choices(session)
    return render_template(
        "admin/sequences.html", sequences=views, choices=choices, channel_labels=CHANNEL_LABELS
    )


def _apply(treatment: str, change: Callable[[Session], int], done: str) -> ResponseReturnValue:
    try:
        with get_db().transaction() as session:
            version = change(session)
    except editing.UnknownStep as error:
        flash(f"Not changed: {error}.", "error")
    except InvalidSequence as error:
        flash(f"Not changed: {error}.", "error")
    else:
        if version:
            flash(f"{done} Saved as version {version}; leads that arrive from now on follow it.")
        else:
            flash("Nothing changed.")
    return redirect(url_for("admin.sequence_list") + f"#seq-{treatment}", code=303)


@bp.post("/sequences/<treatment>/steps")
@admin_required
def sequence_add(treatment: str) -> ResponseReturnValue:
    form = request.form
    return _apply(
        treatment,
        lambda s: editing.add_step(
            s,
            treatment,
            form.get("key", ""),
            form.get("delay", ""),
            form.get("audience", ""),
            form.get("channel", ""),
            form.get("template_key", ""),
            author(),
        ),
        "Step added.",
    )


@bp.post("/sequences/<treatment>/steps/<int:step_id>")
@admin_required
def sequence_update(treatment: str, step_id: int) -> ResponseReturnValue:
    form = request.form
    return _apply(
        treatment,
        lambda s: editing.update_step(
            s, step_id, form.get("delay", ""), form.get("template_key", ""), author()
        ),
        "Step changed.",
    )


@bp.post("/sequences/<treatment>/steps/<int:step_id>/enabled")
@admin_required
def sequence_toggle(treatment: str, step_id: int) -> ResponseReturnValue:
    enabled = request.form.get("enabled") == "1"
    return _apply(
        treatment,
        lambda s: editing.set_enabled(s, step_id, enabled, author()),
        "Step enabled." if enabled else "Step disabled.",
    )


@bp.post("/sequences/<treatment>/steps/<int:step_id>/move")
@admin_required
def sequence_move(treatment: str, step_id: int) -> ResponseReturnValue:
    direction = request.form.get("direction", "")
    return _apply(
        treatment, lambda s: editing.move_step(s, step_id, direction, author()), "Step moved."
    )


@bp.post("/sequences/<treatment>/versions/<int:number>/restore")
@admin_required
def sequence_restore(treatment: str, number: int) -> ResponseReturnValue:
    return _apply(
        treatment,
        lambda s: editing.restore(s, treatment, number, author()),
        f"Version {number} restored.",
    )
