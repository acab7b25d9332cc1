"""A one-off message from the lead page: pick a template, read the preview, send it."""

from __future__ import annotations

import uuid

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from intake_service.broker import current_broker
from intake_service.config import Settings
from intake_service.db import get_db, utcnow
from intake_service.domain.intake.rules import LOCALE_NAMES
from intake_service.domain.leads import one_off, status
from intake_service.domain.outreach import scheduler
from intake_service.web.errors import error_response
from intake_service.web.staff import bp, local_time
from intake_service.web.staff.forms import ActionForm
from intake_service.web.staff.session import actor, staff_required


def _settings() -> Settings:
    settings: Settings = current_app.extensions["intake.settings"]
    return settings


def _choice() -> tuple[str, str] | None:
    source = request.form if request.method == "POST" else request.args
    key, channel = source.get("template", ""), source.get("channel", "")
    if not key or channel not in one_off.CHANNEL_LABELS or len(key) > 100:
        return None
    return key, channel


@bp.get("/staff/leads/<uuid:lead_id>/message")
@staff_required
def message_preview(lead_id: uuid.UUID) -> ResponseReturnValue:
    choice = _choice()
    if choice is None:
        return error_response(400, "Choose a template and a channel (email or text).")
    with get_db().session() as db_session:
        try:
            seen = one_off.preview(db_session, lead_id, *choice, _settings(), utcnow())
        except status.UnknownLead:
            raise NotFound() from None
        except one_off.CannotSend as error:
            return error_response(400, str(error).capitalize() + ".")
        lead = status.get_lead(db_session, lead_id)
        name = lead.full_name or "this lead"
    decision = seen.decision
    return render_template(
        "staff/message_preview.html",
        lead_id=lead_id,
        name=name,
        seen=seen,
        channel_label=one_off.CHANNEL_LABELS[seen.channel],
        locale_names=LOCALE_NAMES,
        refusal=None if decision.may_still_go else one_off.explain(decision, seen.channel),
        later=local_time(decision.not_before) if not decision.allowed else None,
        action_form=ActionForm(),
    )


@bp.post("/staff/leads/<uuid:lead_id>/message")
@staff_required
def send_message(lead_id: uuid.UUID) -> ResponseReturnValue:
    choice = _choice()
    version = request.form.get("version_id", "")
    exempt = request.form.get("exempt") == "confirmed"
    if not ActionForm().validate_on_submit() or choice is None or not version.isdigit():
        return error_response(400, "That form was incomplete or had expired; please try again.")
    settings, db, now = _settings(), get_db(), utcnow()
    try:
        with db.transaction() as db_session:
            sent = one_off.send(
                db_session, lead_id, *choice, int(version), actor(), settings, now, exempt
            )
    except status.UnknownLead:
        raise NotFound() from None
    except one_off.CannotSend as error:
        flash(str(error).capitalize() + ".", "error")
        return redirect(url_for("staff.lead_page", lead_id=lead_id), code=303)
    label = one_off.CHANNEL_LABELS[choice[1]]
    if sent.deferred:
        flash(f"The {label} will go at {local_time(sent.due_at)}, when the rules allow it.")
    else:
        # Hand it to a worker now, as processing does; if the broker is away it stays queued
        # and the requeue sweep hands it on.
        broker = current_broker()
        if not broker.backing_off():
            scheduler.hand_to_workers(
                broker, scheduler.claim_due_routed(db, settings.delivery, lead_id)
            )
        flash(f"The {label} is on its way; its status shows on the timeline.")
    return redirect(url_for("staff.lead_page", lead_id=lead_id), code=303)
