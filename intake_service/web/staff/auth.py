"""Signing in and out."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user

from intake_service.db import get_db, utcnow
from intake_service.domain.accounts import signin
from intake_service.domain.accounts import users as accounts
from intake_service.domain.compliance import audit
from intake_service.extensions import client_address
from intake_service.web.staff import bp
from intake_service.web.staff.forms import ActionForm, LoginForm
from intake_service.web.staff.second_factor import start_pending
from intake_service.web.staff.session import StaffUser, actor, me, safe_next, start_session

BAD_CREDENTIALS = "That email and password do not match an active account."


def _locked_message(error: signin.LockedOut) -> str:
    if error.scope == "account":
        return (
            "Too many failed sign-ins for this account. For your patients' safety it is locked "
            f"for {error.minutes} min; try again then, or ask an administrator."
        )
    return (
        "Too many failed sign-ins from this network. Sign-in from here is paused for "
        f"{error.minutes} min."
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if current_user.is_authenticated:
            return redirect(form.next.data or url_for("staff.inbox"))
    expired = session.pop("staff.expired", False)
    error = None
    status = 200
    if form.validate_on_submit():
        db = get_db()
        with db.session() as db_session:
            try:
                user = signin.authenticate(
                    db_session,
                    form.email.data or "",
                    form.password.data or "",
                    client_address() or "unknown",
                    utcnow(),
                )
            except signin.LockedOut as locked:
                db_session.commit()
                error, status = _locked_message(locked), 429
            except signin.BadCredentials:
                db_session.commit()
                error, status = BAD_CREDENTIALS, 401
            else:
                staff = StaffUser.of(user)
                second_factor = signin.needs_second_factor(user)
                db_session.commit()
                target = safe_next(form.next.data) or url_for("staff.inbox")
                if second_factor:
                    # The password was right; the sign-in completes with a code (second_factor.py).
                    start_pending(staff, target)
                    return redirect(url_for("staff.login_code"), code=303)
                start_session(staff)
                return redirect(target, code=303)
    elif request.method == "POST":
        status = 400
        error = "Enter your email and password."
    form.password.data = ""
    return render_template("staff/login.html", form=form, error=error, expired=expired), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("staff.inbox"))
    if current_user.is_authenticated:
        who = actor()
        with get_db().transaction() as db_session:
            audit.record(db_session, who, "auth.logout")
            # Signing out ends every copy of this session's cookie, here and on other devices.
            accounts.end_sessions(db_session, me().id)
    logout_user()
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("staff.login"), code=303)
