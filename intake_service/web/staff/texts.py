"""Texts from numbers no lead gave: kept, never dropped, and read here by staff.

A crisis text pages on-call with a link to its own page here; taking it there stops the pages.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from intake_service.db import get_db, utcnow
from intake_service.domain.leads import unknown_texts
from intake_service.domain.outreach import text_pages
from intake_service.web.errors import error_response
from intake_service.web.staff import bp
from intake_service.web.staff.forms import ActionForm
from intake_service.web.staff.session import actor, staff_required


@bp.get("/staff/texts", endpoint="unknown_texts")
@staff_required
def unknown_texts_page() -> ResponseReturnValue:
    with get_db().transaction() as db_session:
        rows = unknown_texts.listing(db_session, actor(), utcnow())
    return render_template("staff/texts.html", rows=rows)


@bp.get("/staff/texts/<int:inbound_id>", endpoint="unknown_text")
@staff_required
def unknown_text_page(inbound_id: int) -> ResponseReturnValue:
    try:
        with get_db().transaction() as db_session:
            text = unknown_texts.one(db_session, actor(), inbound_id, utcnow())
    except unknown_texts.UnknownText:
        raise NotFound() from None
    return render_template("staff/text.html", text=text, action_form=ActionForm())


@bp.post("/staff/texts/<int:inbound_id>/acknowledge", endpoint="acknowledge_text")
@staff_required
def acknowledge_text(inbound_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        return error_response(400, "That form was incomplete or had expired; please try again.")
    try:
        first = text_pages.acknowledge(get_db(), inbound_id, actor())
    except text_pages.UnknownText:
        raise NotFound() from None
    if first:
        flash("You have taken this text: nobody else is paged about it.")
    else:
        flash("Someone had already taken this text; its pages had stopped.")
    return redirect(url_for("staff.unknown_text", inbound_id=inbound_id), code=303)
