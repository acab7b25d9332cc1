"""Data requests: find a person's lead by email, phone or reference; export it or delete it.

The domain (`domain/compliance/data_requests.py`, over `rights.py`) does the work and writes
the audit lines; this module parses the form and shapes the answers. The export is a download
that no cache may keep: it holds everything, health information included, decrypted.
"""

from __future__ import annotations

import json
import uuid

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from intake_service.db import get_db, utcnow
from intake_service.domain.compliance import data_requests, rights
from intake_service.domain.templates.message_context import reference
from intake_service.web.admin import bp
from intake_service.web.staff.session import actor, admin_required


@bp.get("/data-requests")
@admin_required
def data_requests_page() -> ResponseReturnValue:
    query = request.args.get("q", "").strip()
    problem = None
    matches: list[data_requests.Match] = []
    if len(query) > data_requests.MAX_QUERY:
        problem = f"Search for at most {data_requests.MAX_QUERY} characters."
    elif query:
        with get_db().session() as session:
            matches = data_requests.find(session, query)
    return (
        render_template("admin/data_requests.html", query=query, matches=matches, problem=problem),
        400 if problem else 200,
    )


def _lead_page(
    lead_id: uuid.UUID, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    try:
        with get_db().transaction() as session:
            held = data_requests.open_request(session, lead_id, actor(), utcnow())
    except rights.UnknownLead:
        raise NotFound("No lead has this id; it may have been deleted.") from None
    return render_template("admin/data_request.html", held=held, error=error), status


@bp.get("/data-requests/<uuid:lead_id>")
@admin_required
def data_request(lead_id: uuid.UUID) -> ResponseReturnValue:
    return _lead_page(lead_id)


@bp.post("/data-requests/<uuid:lead_id>/export")
@admin_required
def data_export(lead_id: uuid.UUID) -> ResponseReturnValue:
    try:
        with get_db().transaction() as session:
            document = data_requests.export(session, lead_id, actor(), utcnow())
    except rights.UnknownLead:
        raise NotFound("No lead has this id; it may have been deleted.") from None
    body = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    response = Response(body, mimetype="application/json")
    # The file is named by the reference, which names nobody (it may sit in a downloads list).
    response.headers["Content-Disposition"] = (
        f'attachment; filename="lead-{reference(lead_id)}-export.json"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/data-requests/<uuid:lead_id>/delete")
@admin_required
def data_delete(lead_id: uuid.UUID) -> ResponseReturnValue:
    typed = request.form.get("confirm", "")[:100]
    try:
        with get_db().transaction() as session:
            deleted = data_requests.delete(session, lead_id, typed, actor(), utcnow())
    except data_requests.WrongConfirmation as wrong:
        return _lead_page(lead_id, f"Nothing was deleted: {wrong}.", 422)
    except rights.UnknownLead:
        flash("That lead is no longer held (deleted already?).", "error")
        return redirect(url_for("admin.data_requests_page"), code=303)
    flash(
        f"Lead {reference(lead_id)} is deleted ({sum(deleted.values())} rows). Its consent "
        "ledger is kept as proof, and the audit log records the deletion."
    )
    return redirect(url_for("admin.data_requests_page"), code=303)
