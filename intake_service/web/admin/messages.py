"""Failed messages: the dead letters, each with its attempts; retry for real, or dismiss."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from intake_service.db import get_db
from intake_service.domain.outreach import dead_letters
from intake_service.domain.outreach.dead_letter_audit import record_action
from intake_service.web.admin import bp
from intake_service.web.staff.session import actor, admin_required


@bp.get("/messages/failed")
@admin_required
def failed_list() -> ResponseReturnValue:
    include_dismissed = request.args.get("all") == "1"
    letters = dead_letters.failed(get_db(), include_dismissed)
    return render_template(
        "admin/failed.html", letters=letters, include_dismissed=include_dismissed
    )


@bp.get("/messages/failed/<int:message_id>")
@admin_required
def failed_detail(message_id: int) -> ResponseReturnValue:
    try:
        letter, attempts = dead_letters.history(get_db(), message_id)
    except dead_letters.NotADeadLetter:
        raise NotFound() from None
    return render_template("admin/failed_detail.html", letter=letter, attempts=attempts)


@bp.post("/messages/failed/<int:message_id>/retry")
@admin_required
def failed_retry(message_id: int) -> ResponseReturnValue:
    db = get_db()
    try:
        dead_letters.retry(db, message_id)
    except dead_letters.NotADeadLetter:
        flash(f"Message {message_id} is no longer failed (already retried?).", "error")
        return redirect(url_for("admin.failed_list"), code=303)
    except dead_letters.CannotRetry as refused:
        flash(f"Message {message_id} was not retried: {refused}.", "error")
        return redirect(url_for("admin.failed_detail", message_id=message_id), code=303)
    record_action(db, actor(), "message.retried", message_id)
    flash(
        f"Message {message_id} is planned again, due now: a worker sends it within seconds, "
        "as a new attempt in its history."
    )
    return redirect(url_for("admin.failed_list"), code=303)


@bp.post("/messages/failed/<int:message_id>/dismiss")
@admin_required
def failed_dismiss(message_id: int) -> ResponseReturnValue:
    db = get_db()
    try:
        dead_letters.dismiss(db, message_id)
    except dead_letters.NotADeadLetter:
        raise NotFound() from None
    record_action(db, actor(), "message.dismissed", message_id)
    flash(f"Message {message_id} dismissed; it stays in the list under “Show dismissed”.")
    return redirect(url_for("admin.failed_list"), code=303)
