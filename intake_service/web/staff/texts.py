"""Texts from numbers no lead gave: kept, never dropped, and read here by staff."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from intake_service.db import get_db
from intake_service.domain.leads import replies
from intake_service.web.staff import bp
from intake_service.web.staff.session import staff_required


@bp.get("/staff/texts", endpoint="unknown_texts")
@staff_required
def unknown_texts() -> ResponseReturnValue:
    with get_db().session() as db_session:
        rows = replies.from_unknown_numbers(db_session)
    return render_template("staff/texts.html", rows=rows)
