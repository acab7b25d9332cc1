"""/ack/<token>: the person paged about an urgent lead says "I am calling", without a login.

GET only shows the page (link previews in phones and mail scanners open links on their own,
and must not acknowledge); the button posts. The page shows the first name and phone number
to call, nothing clinical. Until the staff app lands this is how a page is acknowledged.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from intake_service.config import Settings
from intake_service.db import get_db
from intake_service.domain.outreach import urgent
from intake_service.extensions import csrf
from intake_service.security.ack_links import InvalidAckLink

bp = Blueprint("ack", __name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["intake.settings"]
    return settings


@bp.route("/ack/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the credential; no session cookie is involved
def acknowledge(token: str) -> ResponseReturnValue:
    try:
        if request.method == "POST":
            view = urgent.acknowledge_link(get_db(), _settings(), token)
        else:
            view = urgent.link_details(get_db(), _settings(), token)
    except (InvalidAckLink, urgent.UnknownLead):
        message = "This link is not valid or has expired. Call the clinic's on-call line."
        return render_template("public/error.html", status=404, message=message), 404
    response = current_app.make_response(
        render_template("staff/ack.html", view=view, done=request.method == "POST")
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token must not leak onward
    return response
