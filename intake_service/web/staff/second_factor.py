"""The second factor in the staff app: the code step of sign-in, and enrolment on the account page.

Between the password and the code, the session holds only who is half-way in and since when
(five minutes at most); it signs nobody in. Enrolment shows the new secret once, as text and as
an otpauth:// address, and turns the factor on only when a code from it is typed back.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from intake_service.db import get_db, utcnow
from intake_service.domain.accounts import second_factor, signin
from intake_service.security import totp
from intake_service.web.staff import bp
from intake_service.web.staff.forms import ActionForm
from intake_service.web.staff.session import (
    StaffUser,
    actor,
    me,
    safe_next,
    staff_required,
    start_session,
)

PENDING_KEY = "staff.pending"
PENDING_FOR = dt.timedelta(minutes=5)
BAD_CODE = "That code is not right, or was already used. Type the code your app shows now."


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=12)])


def start_pending(user: StaffUser, target: str) -> None:
    """Remember, on a fresh session, that `user` gave the right password just now."""
    session.clear()
    session[PENDING_KEY] = {
        "user": user.id,
        "version": user.session_version,
        "at": utcnow().timestamp(),
        "next": target,
    }


def _pending() -> dict[str, object] | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float):
        return None
    if utcnow().timestamp() - float(pending["at"]) > PENDING_FOR.total_seconds():  # type: ignore[arg-type]
        session.pop(PENDING_KEY, None)
        return None
    return pending


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> ResponseReturnValue:
    pending = _pending()
    if pending is None:
        flash("Sign in again: the code step waits five minutes at most.")
        return redirect(url_for("staff.login"), code=303)
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        with get_db().session() as db_session:
            try:
                user = second_factor.verify_code(
                    db_session,
                    int(pending["user"]),  # type: ignore[call-overload]
                    form.code.data or "",
                    request.remote_addr or "unknown",
                    utcnow(),
                )
            except signin.LockedOut as locked:
                db_session.commit()
                error, status = f"Too many failed tries: wait {locked.minutes} min.", 429
            except second_factor.BadCode:
                db_session.commit()
                error, status = BAD_CODE, 401
            except signin.BadCredentials:
                session.clear()
                return redirect(url_for("staff.login"), code=303)
            else:
                staff = StaffUser.of(user)
                db_session.commit()
                if staff.session_version != pending["version"]:
                    session.clear()  # sessions were revoked meanwhile: start again
                    return redirect(url_for("staff.login"), code=303)
                start_session(staff)
                return redirect(safe_next(str(pending["next"])) or url_for("staff.inbox"), 303)
    elif request.method == "POST":
        error, status = "Type the six-digit code from your authenticator app.", 400
    form.code.data = ""
    return render_template("staff/login_code.html", form=form, error=error), status


@bp.get("/staff/account")
@staff_required
def account() -> ResponseReturnValue:
    with get_db().session() as db_session:
        enabled = second_factor.is_enabled(db_session, me().id)
    return render_template(
        "staff/account.html", enabled=enabled, action=ActionForm(), code_form=CodeForm()
    )


@bp.post("/staff/account/second-factor")
@staff_required
def enrol() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        return redirect(url_for("staff.account"), code=303)
    with get_db().transaction() as db_session:
        try:
            secret = second_factor.begin_enrolment(db_session, me().id)
        except ValueError as error:
            flash(str(error), "error")
            return redirect(url_for("staff.account"), code=303)
    issuer = current_app.extensions["intake.settings"].clinic_name
    return render_template(
        "staff/account.html",
        enrolling=True,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        uri=totp.provisioning_uri(secret, me().email, issuer),
        code_form=CodeForm(),
        action=ActionForm(),
    )


@bp.post("/staff/account/second-factor/confirm")
@staff_required
def confirm() -> ResponseReturnValue:
    form = CodeForm()
    if not form.validate_on_submit():
        flash("Type the six-digit code to finish.", "error")
        return redirect(url_for("staff.account"), code=303)
    with get_db().transaction() as db_session:
        try:
            second_factor.confirm_enrolment(
                db_session, me().id, form.code.data or "", utcnow(), actor()
            )
        except (second_factor.BadCode, ValueError):
            flash("That code did not match; start again and copy the new secret.", "error")
            return redirect(url_for("staff.account"), code=303)
    flash("Second factor on: from now on, sign-in asks for a code.")
    return redirect(url_for("staff.account"), code=303)


@bp.post("/staff/account/second-factor/remove")
@staff_required
def remove() -> ResponseReturnValue:
    form = CodeForm()
    if not form.validate_on_submit():
        return redirect(url_for("staff.account"), code=303)
    with get_db().transaction() as db_session:
        try:
            second_factor.remove_with_code(
                db_session, me().id, form.code.data or "", actor(), utcnow()
            )
        except second_factor.BadCode:
            flash("That code did not match; the second factor stays on.", "error")
            return redirect(url_for("staff.account"), code=303)
    flash("Second factor removed; sign in again.")
    return redirect(url_for("staff.login"), code=303)
