"""The unsubscribe link in every patient email: no sign-in, a button to confirm, and RFC 8058
one-click POSTs from mail providers on the same address.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue

from intake_service.config import Settings
from intake_service.db import get_db
from intake_service.domain.compliance import opt_outs, unsubscribe
from intake_service.domain.intake import rules
from intake_service.extensions import client_address
from intake_service.web.public import UNSUBSCRIBE_BLUEPRINT
from intake_service.web.public.locale import lead_locale

bp = Blueprint(UNSUBSCRIBE_BLUEPRINT, __name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["intake.settings"]
    return settings


def _masked(address: str | None) -> str | None:
    """j…@example.com: enough to recognise, not enough to learn an address from a link."""
    if not address or "@" not in address:
        return None
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


def _invalid() -> ResponseReturnValue:
    return render_template("public/unsubscribe_invalid.html"), 400


@bp.after_request
def private(response: Response) -> Response:
    # The page is about one person's subscription: no caching, no indexing, no referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/unsubscribe/<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    try:
        found = unsubscribe.look_up(get_db(), _settings(), token)
    except unsubscribe.InvalidToken:
        return _invalid()
    with lead_locale(found.locale):
        return render_template(
            "public/unsubscribe.html",
            token=token,
            address=_masked(found.address),
            subscribed=found.subscribed,
        )


@bp.post("/unsubscribe/<token>")
def confirm(token: str) -> ResponseReturnValue:
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    evidence = opt_outs.RequestEvidence(
        ip=client_address(),
        user_agent=rules.user_agent(request.headers.get("User-Agent")),
    )
    try:
        found = unsubscribe.confirm(
            get_db(), _settings(), token, "one-click" if one_click else "link", evidence
        )
    except unsubscribe.InvalidToken:
        return _invalid()
    if one_click:
        # A mail provider, not a person, made this request: a plain answer is all it reads.
        return Response("Unsubscribed.\n", mimetype="text/plain")
    with lead_locale(found.locale):
        return render_template("public/unsubscribed.html", address=_masked(found.address))
