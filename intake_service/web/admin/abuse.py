"""Spam and texting: the block list (add, remove) and texting paused after a surge (lift).

Each change goes through the domain (`domain/intake/block_list.py`,
`domain/compliance/sms_pauses.py`), which writes the audit line.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from intake_service.db import get_db, utcnow
from intake_service.domain.compliance import sms_pauses
from intake_service.domain.intake import block_list
from intake_service.models.abuse import BLOCK_KINDS
from intake_service.web.admin import bp
from intake_service.web.staff.session import actor, admin_required

KIND_LABELS = {
    "email": "Email address",
    "domain": "Email domain",
    "phone_prefix": "Phone prefix",
    "word": "Word",
}
KIND_HINTS = {
    "email": "bot@example.com",
    "domain": "example.com (and its subdomains)",
    "phone_prefix": "+4470 (+, country code, digits)",
    "word": "one word, in a name or the message",
}
assert set(KIND_LABELS) == set(BLOCK_KINDS)


def _page(
    form: dict[str, str] | None = None, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    with get_db().session() as session:
        entries = block_list.entries(session)
        active = sms_pauses.active(session)
        lifted = sms_pauses.lifted(session)
    return (
        render_template(
            "admin/abuse.html",
            entries=entries,
            active=active,
            lifted=lifted,
            kind_labels=KIND_LABELS,
            kind_hints=KIND_HINTS,
            form=form or {"kind": "email", "value": "", "note": ""},
            error=error,
        ),
        status,
    )


@bp.get("/abuse")
@admin_required
def abuse_page() -> ResponseReturnValue:
    return _page()


@bp.post("/abuse/blocks")
@admin_required
def abuse_block() -> ResponseReturnValue:
    form = {
        "kind": request.form.get("kind", ""),
        "value": request.form.get("value", "")[:1000],
        "note": request.form.get("note", "")[:1000],
    }
    try:
        with get_db().transaction() as session:
            entry, new = block_list.add(session, form["kind"], form["value"], form["note"], actor())
            label, value = KIND_LABELS.get(entry.kind, entry.kind), entry.value
    except ValueError as error:
        return _page(form, f"Not added: {error}.", 422)
    if new:
        flash(f"{label} “{value}” is blocked: a submission matching it is stored as spam.")
    else:
        flash(f"{label} “{value}” was already on the block list.")
    return redirect(url_for("admin.abuse_page") + "#blocks", code=303)


@bp.post("/abuse/blocks/<int:entry_id>/remove")
@admin_required
def abuse_unblock(entry_id: int) -> ResponseReturnValue:
    with get_db().transaction() as session:
        removed = block_list.remove(session, entry_id, actor())
    if removed is None:
        flash("That entry is no longer on the block list.", "error")
    else:
        kind, value = removed
        flash(f"{KIND_LABELS.get(kind, kind)} “{value}” is no longer blocked.")
    return redirect(url_for("admin.abuse_page") + "#blocks", code=303)


@bp.post("/abuse/pauses/<int:pause_id>/lift")
@admin_required
def abuse_lift(pause_id: int) -> ResponseReturnValue:
    with get_db().transaction() as session:
        pause = sms_pauses.lift(session, pause_id, actor(), utcnow())
        what = f"{pause.scope} {pause.value}" if pause is not None else None
    if what is None:
        flash("That pause is no longer in force.", "error")
    else:
        flash(f"Texting to {what} is open again. A new surge would pause it again.")
    return redirect(url_for("admin.abuse_page") + "#pauses", code=303)
