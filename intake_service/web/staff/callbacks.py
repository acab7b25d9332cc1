"""Callbacks owed to patients, overdue first, in the clinic's time zone."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from intake_service.db import get_db, utcnow
from intake_service.domain.leads import callbacks
from intake_service.web.staff import bp, clinic_zone_name
from intake_service.web.staff.forms import ActionForm
from intake_service.web.staff.session import staff_required


@bp.get("/staff/callbacks", endpoint="callback_list")
@staff_required
def callback_list() -> ResponseReturnValue:
    zone = clinic_zone_name()
    with get_db().session() as db_session:
        rows = callbacks.open_callbacks(db_session, zone, utcnow())
    return render_template("staff/callbacks.html", rows=rows, action_form=ActionForm())
