"""Routing: queues and their members, and the rules that pick a queue for each new lead."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from intake_service.db import get_db
from intake_service.domain.leads import routing_editing as editing
from intake_service.domain.templates.message_context import TREATMENT_LABELS
from intake_service.domain.triage.screening import PRIORITIES
from intake_service.web.admin import bp, clinic, settings
from intake_service.web.staff.session import actor, admin_required


def _team() -> tuple[str, ...]:
    return settings().team_emails


@bp.get("/routing")
@admin_required
def routing_page() -> ResponseReturnValue:
    with get_db().session() as session:
        view = editing.overview(session, _team())
        zone = clinic(session).timezone
    return render_template(
        "admin/routing.html",
        view=view,
        treatments=TREATMENT_LABELS,
        priorities=[(p, editing.PRIORITY_LABELS[p]) for p in PRIORITIES],
        default_team=", ".join(_team()),
        zone=zone,
    )


def _apply(change: Callable[[Session], object], done: str, anchor: str) -> ResponseReturnValue:
    """Run one change in one transaction; a refusal stores nothing and says why."""
    try:
        with get_db().transaction() as session:
            before = set(editing.warnings(session, _team()))
            changed = change(session)
            new = [w for w in editing.warnings(session, _team()) if w not in before]
    except (editing.InvalidRouting, editing.UnknownRouting) as error:
        flash(f"Not changed: {error}", "error")
    else:
        if changed is False:
            flash("Nothing changed.")
        else:
            flash(f"{done} It applies to leads routed from now on; the change is in the audit log.")
            if new:
                # Saved all the same: the engine's fallback (the default team) still catches
                # every lead; the page lists what to look at.
                flash(
                    "Saved, with a warning: " + " ".join(new) + " See “Check the routing”.",
                    "warning",
                )
    return redirect(url_for("admin.routing_page") + anchor, code=303)


def _int(name: str) -> int | None:
    raw = request.form.get(name, "").strip()
    return int(raw) if raw.isdigit() else None


@bp.post("/routing/rules")
@admin_required
def routing_rule_add() -> ResponseReturnValue:
    return _apply(
        lambda s: editing.add_rule(s, editing.parse_rule(s, request.form), actor()),
        "Rule added at the end.",
        "#rules",
    )


@bp.post("/routing/rules/<int:rule_id>")
@admin_required
def routing_rule_update(rule_id: int) -> ResponseReturnValue:
    return _apply(
        lambda s: editing.update_rule(s, rule_id, editing.parse_rule(s, request.form), actor()),
        "Rule changed.",
        f"#rule-{rule_id}",
    )


@bp.post("/routing/rules/<int:rule_id>/active")
@admin_required
def routing_rule_toggle(rule_id: int) -> ResponseReturnValue:
    active = request.form.get("active") == "1"
    return _apply(
        lambda s: editing.set_rule_active(s, rule_id, active, actor()),
        "Rule enabled." if active else "Rule disabled.",
        f"#rule-{rule_id}",
    )


@bp.post("/routing/rules/<int:rule_id>/move")
@admin_required
def routing_rule_move(rule_id: int) -> ResponseReturnValue:
    direction = request.form.get("direction", "")
    return _apply(
        lambda s: editing.move_rule(s, rule_id, direction, actor()),
        "Rule moved.",
        f"#rule-{rule_id}",
    )


@bp.post("/routing/queues")
@admin_required
def routing_queue_add() -> ResponseReturnValue:
    form = request.form
    return _apply(
        lambda s: editing.add_queue(s, form.get("name", ""), form.get("emails", ""), actor()),
        "Queue added; add its members below.",
        "#queues",
    )


@bp.post("/routing/queues/<int:queue_id>")
@admin_required
def routing_queue_update(queue_id: int) -> ResponseReturnValue:
    emails = request.form.get("emails", "")
    lead = _int("lead_user_id")
    return _apply(
        lambda s: editing.update_queue(s, queue_id, emails, lead, actor()),
        "Queue changed.",
        f"#queue-{queue_id}",
    )


@bp.post("/routing/queues/<int:queue_id>/members")
@admin_required
def routing_member_add(queue_id: int) -> ResponseReturnValue:
    user_id = _int("user_id")

    def add(session: Session) -> int:
        if user_id is None:
            raise editing.InvalidRouting("Choose a staff account to add.", "user_id")
        return editing.add_member(session, queue_id, user_id, actor())

    return _apply(add, "Member added at the end of the round-robin.", f"#queue-{queue_id}")


@bp.post("/routing/members/<int:member_id>/off")
@admin_required
def routing_member_toggle(member_id: int) -> ResponseReturnValue:
    off = request.form.get("off") == "1"
    return _apply(
        lambda s: editing.set_member_off(s, member_id, off, actor()),
        "Marked off: round-robin skips them." if off else "Back on duty.",
        "#queues",
    )


@bp.post("/routing/members/<int:member_id>/remove")
@admin_required
def routing_member_remove(member_id: int) -> ResponseReturnValue:
    return _apply(
        lambda s: editing.remove_member(s, member_id, actor()),
        "Member removed from the queue.",
        "#queues",
    )
