"""The audit log: every recorded view and change, filterable by person, lead and kind."""

from __future__ import annotations

import uuid

from flask import render_template, request
from flask.typing import ResponseReturnValue

from intake_service.db import get_db
from intake_service.domain.accounts.users import list_users
from intake_service.domain.compliance import audit
from intake_service.web.admin import bp
from intake_service.web.staff.session import admin_required

PAGE = 100


@bp.get("/audit")
@admin_required
def audit_page() -> ResponseReturnValue:
    args = request.args
    problems = []
    lead_text = args.get("lead", "").strip()
    lead_id = None
    if lead_text:
        try:
            lead_id = uuid.UUID(lead_text)
        except ValueError:
            problems.append(
                "The lead filter takes a lead's id, like 6f1c2a9e-4b7d-4e21-9a53-0c8d2f1e7b64."
            )
    person = args.get("person", type=int)
    kind = args.get("kind", "") or None
    if kind is not None and kind not in audit.KINDS:
        problems.append("Pick a kind from the list.")
        kind = None
    before = args.get("before", type=int)
    with get_db().session() as session:
        users = [(u.id, u.email) for u in list_users(session)]
        rows = [] if problems else audit.events(session, lead_id, person, kind, PAGE + 1, before)
    older = rows[PAGE - 1].id if len(rows) > PAGE else None
    return (
        render_template(
            "admin/audit.html",
            rows=rows[:PAGE],
            users=users,
            kinds=audit.KINDS,
            lead=lead_text,
            person=person,
            kind=kind,
            older=older,
            problems=problems,
        ),
        400 if problems else 200,
    )
