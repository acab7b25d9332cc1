"""The page a one-time link opens: an invited person, or one whose password was reset, sets it.

Not behind sign-in (the link is the credential), so it is its own small blueprint; the token
is in the path, hence no referrer ever leaves this page.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from intake_service.db import get_db, utcnow
from intake_service.domain.accounts import invites
from intake_service.domain.accounts.users import AccountError
from intake_service.security.passwords import MIN_LENGTH, WeakPassword
from intake_service.web.admin.forms import SetPasswordForm
from intake_service.web.unstorable_input import refuse_nul

bp = Blueprint("accounts", __name__)
bp.before_request(refuse_nul)  # PostgreSQL cannot store a NUL (web/unstorable_input.py)

GONE = (
    "This link no longer works: it was used already, replaced by a newer one, or it expired. "
    "Ask your clinic's administrator for a new one."
)


@bp.after_request
def _private(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _page(
    form: SetPasswordForm, purpose: str, email: str, error: str | None, status: int
) -> ResponseReturnValue:
    return (
        render_template(
            "admin/set_password.html",
            form=form,
            purpose=purpose,
            email=email,
            error=error,
            min_length=MIN_LENGTH,
        ),
        status,
    )


@bp.route("/account/<token>", methods=["GET", "POST"])
def set_password(token: str) -> ResponseReturnValue:
    now = utcnow()
    with get_db().session() as session:
        try:
            link = invites.find(session, token, now)
        except invites.LinkInvalid:
            return render_template("public/error.html", status=404, message=GONE), 404
        purpose, email = link.purpose, link.email
    form = SetPasswordForm()
    if not form.is_submitted():
        return _page(form, purpose, email, None, 200)
    if not form.validate():
        return _page(form, purpose, email, "Type the password twice.", 400)
    if form.password.data != form.confirm.data:
        return _page(form, purpose, email, "The two passwords are not the same.", 422)
    try:
        with get_db().transaction() as session:
            invites.complete(session, token, form.password.data or "", now)
    except invites.LinkInvalid:
        return render_template("public/error.html", status=404, message=GONE), 404
    except (WeakPassword, AccountError) as error:
        return _page(form, purpose, email, f"{str(error).capitalize()}.", 422)
    flash("Your password is set. Sign in with it now.")
    return redirect(url_for("staff.login"), code=303)
