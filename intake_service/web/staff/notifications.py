"""The notification badge every staff page polls (htmx): counts since the page was opened."""

from __future__ import annotations

import datetime as dt

from flask import render_template, request
from flask.typing import ResponseReturnValue

from intake_service.db import get_db, utcnow
from intake_service.domain.leads import notifications
from intake_service.web.staff import bp
from intake_service.web.staff.session import me, staff_required

POLL_SECONDS = 10
# A page open longer than this counts from then on: the badge is about what is new.
MAX_WINDOW = dt.timedelta(days=2)


@bp.get("/staff/notifications")
@staff_required
def notification_badge() -> ResponseReturnValue:
    raw = request.args.get("since", "")
    try:
        since = dt.datetime.fromisoformat(raw)
    except ValueError:
        return "Give `since` as an ISO time with a zone.", 400
    if since.tzinfo is None:
        return "Give `since` as an ISO time with a zone.", 400
    now = utcnow()
    since = max(since, now - MAX_WINDOW)
    with get_db().session() as db_session:
        found = notifications.counts(db_session, me().id, since)
    return render_template(
        "staff/_notifications.html", found=found, since=since.isoformat(), poll=POLL_SECONDS
    )
