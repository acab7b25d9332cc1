"""The admin app (templates, sequences, users, settings, audit): administrators only."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from intake_service.web.staff.session import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@admin_required
def index() -> ResponseReturnValue:
    return render_template("admin/index.html")
