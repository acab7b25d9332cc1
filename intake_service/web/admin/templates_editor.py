"""The template editor: list, edit with a live preview, save, compare, restore, test-send."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from intake_service.db import get_db
from intake_service.domain.clinic_settings import TEAM_EMAIL_EXTRAS, ClinicProfile
from intake_service.domain.intake.rules import LOCALE_NAMES
from intake_service.domain.outreach.direct_send import DirectSendFailed
from intake_service.domain.templates import editing, variables
from intake_service.domain.templates.message_context import audience
from intake_service.domain.templates.preview import Preview, preview
from intake_service.domain.templates.rendering import TemplateSource
from intake_service.domain.templates.samples import InvalidSample, SampleChoice
from intake_service.domain.templates.versions import as_source
from intake_service.models import Template
from intake_service.web.admin import author, bp, clinic, settings
from intake_service.web.admin.forms import EditorForm
from intake_service.web.staff.session import admin_required, me

CHANNEL_LABELS = {"email": "Email", "sms": "Text (SMS)"}


@bp.get("/templates")
@admin_required
def template_list() -> ResponseReturnValue:
    with get_db().session() as session:
        rows = editing.list_templates(session)
    missing = editing.missing_translations(rows)
    # Per English row, the languages it has no version in: "no Spanish".
    lacking: dict[tuple[str, str], list[str]] = {}
    for m in missing:
        lacking.setdefault((m.key, m.channel), []).append(LOCALE_NAMES.get(m.locale, m.locale))
    return render_template(
        "admin/templates.html",
        rows=rows,
        missing=missing,
        lacking=lacking,
        channel_labels=CHANNEL_LABELS,
        locale_names=LOCALE_NAMES,
    )


def _choice(form: EditorForm) -> SampleChoice:
    return SampleChoice.parse(
        form.sample_urgent.data,
        form.sample_treatment.data,
        form.sample_phone.data,
        form.sample_window.data,
    )


def _draft(form: EditorForm, channel: str) -> TemplateSource:
    return editing.draft_source(
        channel, form.subject.data, form.body_text.data or "", form.body_html.data
    )


def _load(template_id: int) -> tuple[editing.EditorState, ClinicProfile]:
    with get_db().session() as session:
        try:
            state = editing.editor_state(session, template_id, me().id)
        except editing.UnknownTemplate:
            raise NotFound() from None
        return state, clinic(session)


def _preview(
    template: Template, source: TemplateSource, form: EditorForm, profile: ClinicProfile
) -> Preview:
    return preview(
        template.key,
        template.channel,
        source,
        _choice(form),
        profile.template_clinic(),
        form.sample_json.data or "",
        settings().public_base_url,
        profile.team_email_carries,
        template.locale,
    )


def _page(
    state: editing.EditorState,
    form: EditorForm,
    profile: ClinicProfile,
    problems: list[Any] | None = None,
    sent_to: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    template = state.template
    shown = _preview(template, _draft(form, template.channel), form, profile)
    return (
        render_template(
            "admin/template_edit.html",
            template=template,
            audience=audience(template.key),
            current=state.current,
            history=state.history,
            form=form,
            preview=shown,
            problems=problems or [],
            sent_to=sent_to,
            error=error,
            variables=variables.for_template(template.key),
            channel_labels=CHANNEL_LABELS,
            locale_names=LOCALE_NAMES,
            has_phone=state.admin_has_phone,
            sender=profile.name,
            oob=False,
            carries=profile.team_email_carries,
            extras=TEAM_EMAIL_EXTRAS,
        ),
        status,
    )


@bp.get("/templates/<int:template_id>")
@admin_required
def template_edit(template_id: int) -> ResponseReturnValue:
    state, profile = _load(template_id)
    current = state.current
    form = EditorForm(formdata=None)
    form.subject.data = current.subject or ""
    form.body_text.data = current.body_text
    form.body_html.data = current.body_html or ""
    return _page(state, form, profile)


@bp.post("/templates/<int:template_id>")
@admin_required
def template_save(template_id: int) -> ResponseReturnValue:
    state, profile = _load(template_id)
    template = state.template
    current = state.current
    form = EditorForm()
    if not form.validate():
        return _page(state, form, profile, error=_form_error(form), status=400)
    source = _draft(form, template.channel)
    try:
        with get_db().transaction() as session:
            saved = editing.save_draft(
                session, template_id, source, author(), form.note.data, profile.template_clinic()
            )
            number = saved.version if saved else None
    except editing.DraftRefused as refused:
        return _page(state, form, profile, problems=refused.problems, status=422)
    if number is None:
        flash(f"Nothing changed: version {current.version} is still in force.")
    else:
        flash(f"Saved as version {number}. Messages rendered from now on use it.")
    return redirect(url_for("admin.template_edit", template_id=template_id), code=303)


def _form_error(form: EditorForm) -> str:
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        return f"{label}: {errors[0]}"
    return "That form could not be read; please try again."


@bp.post("/templates/<int:template_id>/preview")
@admin_required
def template_preview(template_id: int) -> ResponseReturnValue:
    state, profile = _load(template_id)
    template = state.template
    form = EditorForm()
    if request.headers.get("HX-Request") != "true":
        # Without JavaScript the Preview button posts the whole form: show the page again.
        status = 200 if form.validate() else 400
        return _page(state, form, profile, status=status)
    if not form.validate():
        return render_template("admin/_preview.html", preview=None, error=_form_error(form))
    shown = _preview(template, _draft(form, template.channel), form, profile)
    return render_template(
        "admin/_preview.html",
        preview=shown,
        template=template,
        error=None,
        sender=profile.name,
        oob=True,
    )


@bp.post("/templates/<int:template_id>/test")
@admin_required
def template_test(template_id: int) -> ResponseReturnValue:
    state, profile = _load(template_id)
    template = state.template
    form = EditorForm()
    if not form.validate():
        return _page(state, form, profile, error=_form_error(form), status=400)
    try:
        sent_to = editing.send_test(
            get_db(),
            settings(),
            template_id,
            _draft(form, template.channel),
            _choice(form),
            form.sample_json.data or "",
            me().id,
            profile.template_clinic(),
            profile.team_email_carries,
        )
    except editing.DraftRefused as refused:
        return _page(state, form, profile, problems=refused.problems, status=422)
    except (editing.NoTestAddress, InvalidSample) as error:
        return _page(state, form, profile, error=str(error), status=422)
    except DirectSendFailed as failed:
        message = f"The test could not be sent ({failed.reason}); nothing was saved. Try again."
        return _page(state, form, profile, error=message, status=502)
    return _page(state, form, profile, sent_to=sent_to)


@bp.get("/templates/<int:template_id>/versions/<int:number>")
@admin_required
def template_version(template_id: int, number: int) -> ResponseReturnValue:
    state, _ = _load(template_id)
    template = state.template
    current = state.current
    try:
        with get_db().session() as session:
            version = editing.get_version(session, template_id, number)
    except editing.UnknownTemplate:
        raise NotFound() from None
    return render_template(
        "admin/template_version.html",
        template=template,
        version=version,
        current=current,
        source=as_source(version),
        channel_labels=CHANNEL_LABELS,
    )


@bp.get("/templates/<int:template_id>/compare")
@admin_required
def template_compare(template_id: int) -> ResponseReturnValue:
    state, _ = _load(template_id)
    template = state.template
    current = state.current
    history = state.history
    numbers = [v.version for v in history]
    old = request.args.get("old", type=int)
    new = request.args.get("new", type=int)
    if new is None:
        new = current.version
    if old is None:
        old = max((n for n in numbers if n < new), default=new)
    if old not in numbers or new not in numbers:
        return render_template(
            "public/error.html", status=400, message="Pick two versions that exist."
        ), 400
    with get_db().session() as session:
        diffs = editing.compare(session, template_id, old, new)
    return render_template(
        "admin/template_compare.html",
        template=template,
        current=current,
        history=history,
        old=old,
        new=new,
        diffs=[d for d in diffs if d.lines],
        channel_labels=CHANNEL_LABELS,
    )


@bp.post("/templates/<int:template_id>/versions/<int:number>/restore")
@admin_required
def template_restore(template_id: int, number: int) -> ResponseReturnValue:
    _, profile = _load(template_id)
    try:
        with get_db().transaction() as session:
            restored = editing.restore(
                session, template_id, number, author(), profile.template_clinic()
            )
            new_number = restored.version if restored else None
    except editing.UnknownTemplate:
        raise NotFound() from None
    except editing.DraftRefused as refused:
        flash(f"Version {number} cannot be restored: {refused.problems[0]}", "error")
        return redirect(url_for("admin.template_edit", template_id=template_id), code=303)
    if new_number is None:
        flash(f"Version {number} is already what is in force.")
    else:
        flash(f"Version {number} restored as version {new_number}.")
    return redirect(url_for("admin.template_edit", template_id=template_id), code=303)
