"""The dev mailbox pages: what the embedded default 'sent', listed and shown one by one."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template
from flask.typing import ResponseReturnValue

from intake_service.db import get_db
from intake_service.domain import dev_mailbox

bp = Blueprint("dev_mailbox", __name__, url_prefix="/dev/mailbox")


@bp.before_request
def only_where_used() -> None:
    # 404, not 403: outside development the pages do not exist at all.
    if not dev_mailbox.available(current_app.extensions["intake.settings"]):
        abort(404)


@bp.get("")
def entries() -> ResponseReturnValue:
    return render_template("dev/mailbox_list.html", entries=dev_mailbox.recent(get_db()))


@bp.get("/<int:entry_id>")
def entry(entry_id: int) -> ResponseReturnValue:
    found = dev_mailbox.get(get_db(), entry_id)
    if found is None:
        abort(404)
    response = current_app.make_response(render_template("dev/mailbox_detail.html", entry=found))
    # Belt and braces around the sandboxed iframe: no script runs on this page at all.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    return response


# The sink was called the dev outbox before "outbox" came to mean the event outbox only;
# old bookmarks and READMEs still reach it.
legacy = Blueprint("dev_outbox_legacy", __name__)


@legacy.get("/dev/outbox", defaults={"rest": ""})
@legacy.get("/dev/outbox/<path:rest>")
def old_address(rest: str) -> ResponseReturnValue:
    return redirect(f"/dev/mailbox/{rest}".rstrip("/"), code=301)
