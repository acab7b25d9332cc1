"""The speed-to-lead dashboard."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from intake_service.db import get_db, utcnow
from intake_service.domain.leads import dashboard
from intake_service.web.staff import bp, clinic_zone_name
from intake_service.web.staff.session import staff_required


@bp.get("/staff/dashboard")
@staff_required
def dashboard_page() -> ResponseReturnValue:
    zone = clinic_zone_name()
    with get_db().session() as db_session:
        report = dashboard.report(db_session, zone, utcnow())
    return render_template("staff/dashboard.html", report=report)
