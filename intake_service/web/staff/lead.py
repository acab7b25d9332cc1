"""One lead's page and the actions on it: claim, assign, call, note, callback, status."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound
from wtforms.fields.choices import SelectChoice

from intake_service.db import get_db, utcnow
from intake_service.domain.accounts.users import active_staff
from intake_service.domain.leads import (
    callbacks,
    calls,
    claims,
    detail,
    inbox,
    one_off,
    status,
    timeline,
)
from intake_service.domain.outreach import urgent
from intake_service.web.errors import error_response
from intake_service.web.staff import bp, clinic_zone_name
from intake_service.web.staff.forms import (
    OUTCOME_LABELS,
    ActionForm,
    AssignForm,
    CallbackForm,
    CallForm,
    NoteForm,
    StatusForm,
)
from intake_service.web.staff.inbox import current_filters
from intake_service.web.staff.session import actor, me, safe_next, staff_required

FORM_INVALID = "That form was incomplete or had expired; please try again."


def _zone_name() -> str:
    return clinic_zone_name()


def _assign_form(staff: list[tuple[int, str]]) -> AssignForm:
    form = AssignForm()
    form.user_id.choices = [SelectChoice("", "Nobody")] + [
        SelectChoice(str(i), label) for i, label in staff
    ]
    return form


@bp.get("/staff/leads/<uuid:lead_id>")
@staff_required
def lead_page(lead_id: uuid.UUID) -> ResponseReturnValue:
    groups = {g for g in request.args.getlist("kind") if g in timeline.GROUPS}
    newest_first = request.args.get("order") != "oldest"
    now = utcnow()
    with get_db().transaction() as db_session:
        try:
            page = detail.lead_page(
                db_session, lead_id, actor(), _zone_name(), now, groups or None, newest_first
            )
        except status.UnknownLead:
            raise NotFound() from None
        previous, following = inbox.neighbours(db_session, lead_id, current_filters(), me().id, now)
        staff = [(u.id, u.label) for u in active_staff(db_session)]
        message_choices = one_off.templates(db_session)
        holder = page.lead.assignee.label if page.lead.assignee else None
    assign_form = _assign_form(staff)
    assign_form.user_id.data = str(page.lead.assignee_id or "")
    local_now = now.astimezone(zoneinfo.ZoneInfo(_zone_name()))
    callback_form = CallbackForm()
    callback_form.day.data = local_now.date()
    callback_form.time.data = (local_now + dt.timedelta(hours=1)).replace(minute=0).time()
    return render_template(
        "staff/lead.html",
        page=page,
        lead=page.lead,
        holder=holder,
        groups=groups,
        all_groups=timeline.GROUPS,
        newest_first=newest_first,
        previous_id=previous,
        next_id=following,
        action_form=ActionForm(),
        call_form=CallForm(),
        note_form=NoteForm(),
        callback_form=callback_form,
        assign_form=assign_form,
        outcome_labels=OUTCOME_LABELS,
        message_choices=message_choices,
        channel_labels=one_off.CHANNEL_LABELS,
    )


def _back(lead_id: uuid.UUID) -> ResponseReturnValue:
    target = safe_next(request.form.get("next")) or url_for("staff.lead_page", lead_id=lead_id)
    return redirect(target, code=303)


def _act(
    lead_id: uuid.UUID, work: Callable[[Session], str | tuple[str, str]]
) -> ResponseReturnValue:
    """Run one domain action in a transaction; its sentence (or error) is flashed."""
    try:
        with get_db().transaction() as db_session:
            message = work(db_session)
    except status.UnknownLead:
        raise NotFound() from None
    except (
        calls.InvalidEntry,
        callbacks.InvalidCallback,
        claims.CannotAssign,
        ValueError,
    ) as error:
        flash(str(error).capitalize() + ".", "error")
        return _back(lead_id)
    if isinstance(message, tuple):
        flash(*message)
    else:
        flash(message)
    return _back(lead_id)


def _invalid(lead_id: uuid.UUID) -> ResponseReturnValue:
    return error_response(400, FORM_INVALID)


@bp.post("/staff/leads/<uuid:lead_id>/claim")
@staff_required
def claim(lead_id: uuid.UUID) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        return _invalid(lead_id)
    who = actor()

    def work(s: Session) -> str | tuple[str, str]:
        result = claims.claim(s, lead_id, who, utcnow())
        if result.outcome == "lost":
            return f"Someone was quicker: {result.holder} has already claimed this lead.", "error"
        return (
            "You claimed this lead." if result.outcome == "won" else "This lead is already yours."
        )

    return _act(lead_id, work)


@bp.post("/staff/leads/<uuid:lead_id>/assign")
@staff_required
def assign(lead_id: uuid.UUID) -> ResponseReturnValue:
    raw = request.form.get("user_id", "")
    if not ActionForm().validate_on_submit() or not (raw == "" or raw.isdigit()):
        return _invalid(lead_id)
    who = actor()
    user_id = int(raw) if raw else None

    def work(s: Session) -> str:
        claims.assign(s, lead_id, user_id, who, utcnow())
        return "Assignment saved." if user_id else "The lead is unassigned."

    return _act(lead_id, work)


@bp.post("/staff/leads/<uuid:lead_id>/calls")
@staff_required
def log_call(lead_id: uuid.UUID) -> ResponseReturnValue:
    form = CallForm()
    if not form.validate_on_submit():
        return _invalid(lead_id)
    who = actor()

    def work(s: Session) -> str:
        calls.log_call(s, lead_id, form.outcome.data or "", form.note.data, who, utcnow())
        return f"Call logged: {OUTCOME_LABELS[form.outcome.data or '']}."

    return _act(lead_id, work)


@bp.post("/staff/leads/<uuid:lead_id>/notes")
@staff_required
def add_note(lead_id: uuid.UUID) -> ResponseReturnValue:
    form = NoteForm()
    if not form.validate_on_submit():
        return _invalid(lead_id)
    who = actor()

    def work(s: Session) -> str:
        calls.add_note(s, lead_id, form.note.data or "", who, utcnow())
        return "Note added."

    return _act(lead_id, work)


@bp.post("/staff/leads/<uuid:lead_id>/callbacks")
@staff_required
def schedule_callback(lead_id: uuid.UUID) -> ResponseReturnValue:
    form = CallbackForm()
    if not form.validate_on_submit() or form.day.data is None or form.time.data is None:
        return _invalid(lead_id)
    zone = zoneinfo.ZoneInfo(_zone_name())
    due = dt.datetime.combine(form.day.data, form.time.data, zone)
    who = actor()

    def work(s: Session) -> str:
        callbacks.schedule(s, lead_id, due.astimezone(dt.UTC), who, utcnow(), form.note.data)
        return f"Callback scheduled for {due:%a %d %b at %H:%M}."

    return _act(lead_id, work)


@bp.post("/staff/leads/<uuid:lead_id>/status")
@staff_required
def mark(lead_id: uuid.UUID) -> ResponseReturnValue:
    form = StatusForm()
    if not form.validate_on_submit():
        return _invalid(lead_id)
    who = actor()
    choice = form.mark.data or ""

    def work(s: Session) -> str:
        now = utcnow()
        if choice == "unspam":
            restored = status.unspam(s, lead_id, now, who)
            return f"No longer spam; the lead is {restored} again."
        target = "new" if choice == "reopen" else choice
        changed = status.set_status(s, lead_id, target, now, who)
        return f"Marked {target}." if changed else f"The lead was already {target}."

    return _act(lead_id, work)


@bp.post("/staff/leads/<uuid:lead_id>/acknowledge")
@staff_required
def acknowledge(lead_id: uuid.UUID) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        return _invalid(lead_id)
    who = actor()
    try:
        first = urgent.acknowledge(get_db(), lead_id, me().email, utcnow(), actor=who)
    except urgent.UnknownLead:
        raise NotFound() from None
    if first:
        flash("Acknowledged: you have this urgent lead. Nobody else is paged.")
    else:
        flash("Someone had already acknowledged this lead.", "error")
    return _back(lead_id)


@bp.post("/staff/callbacks/<int:callback_id>/done")
@staff_required
def callback_done(callback_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        flash(FORM_INVALID, "error")
        return redirect(url_for("staff.callback_list"), code=303)
    who = actor()
    try:
        with get_db().transaction() as db_session:
            lead_id = callbacks.complete(db_session, callback_id, who, utcnow())
    except callbacks.InvalidCallback:
        raise NotFound() from None
    flash("Callback marked done.")
    target = safe_next(request.form.get("next")) or url_for("staff.lead_page", lead_id=lead_id)
    return redirect(target, code=303)
