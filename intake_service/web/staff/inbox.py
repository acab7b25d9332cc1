"""The inbox: the triaged list of leads, its filters, and the live poll for new arrivals."""

from __future__ import annotations

import datetime as dt

from flask import render_template, request, session
from flask.typing import ResponseReturnValue

from intake_service.db import get_db, utcnow
from intake_service.domain.accounts.users import active_staff
from intake_service.domain.leads import inbox
from intake_service.models.lead import TREATMENTS
from intake_service.web.staff import bp
from intake_service.web.staff.forms import ActionForm
from intake_service.web.staff.session import me, staff_required

FILTERS_KEY = "staff.inbox_filters"
POLL_SECONDS = 5


def current_filters() -> inbox.Filters:
    """The filters in the URL, else the ones remembered from the last visit."""
    keys = ("status", "treatment", "assignee", "age", "q")
    if any(k in request.args for k in keys) or "clear" in request.args:
        filters = inbox.Filters.parse({k: request.args.get(k, "") for k in keys})
        session[FILTERS_KEY] = filters.as_dict()
        return filters
    return inbox.Filters.parse(session.get(FILTERS_KEY) or {})


def _cursor(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


@bp.get("/staff/", endpoint="home")
@bp.get("/staff/leads", endpoint="inbox")
@staff_required
def inbox_page() -> ResponseReturnValue:
    filters = current_filters()
    now = utcnow()
    with get_db().session() as db_session:
        rows = inbox.rows(db_session, filters, me().id, now)
        staff = active_staff(db_session)
    return render_template(
        "staff/inbox.html",
        rows=rows,
        filters=filters,
        staff=staff,
        treatments=TREATMENTS,
        statuses=inbox.STATUS_CHOICES,
        ages=[a for a in inbox.AGE_CHOICES if a],
        cursor=now.isoformat(),
        poll_seconds=POLL_SECONDS,
        action_form=ActionForm(),
    )


@bp.get("/staff/leads/new-rows")
@staff_required
def new_rows() -> ResponseReturnValue:
    """Rows for leads that arrived after `since`, and the poller with the next cursor."""
    since = _cursor(request.args.get("since"))
    now = utcnow()
    if since is None:
        return "Give `since` as an ISO time with a zone.", 400
    # Lead times are set in Python before the insert commits; a small overlap keeps a lead
    # committed just after our last poll from falling between two cursors. The page drops
    # rows it already shows.
    with get_db().session() as db_session:
        rows = inbox.rows(
            db_session,
            current_filters(),
            me().id,
            now,
            created_after=since - dt.timedelta(seconds=10),
        )
    return render_template(
        "staff/_new_rows.html",
        rows=rows,
        cursor=now.isoformat(),
        poll_seconds=POLL_SECONDS,
        action_form=ActionForm(),
        fresh=True,
    )
