"""Staff accounts: invite by one-time link, change role, disable or enable, reset a password."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask import session as browser_session
from flask.typing import ResponseReturnValue
from flask_login import logout_user

from intake_service.db import get_db, utcnow
from intake_service.domain.accounts import invites, management
from intake_service.domain.accounts.users import AccountError, UnknownUser, list_users
from intake_service.domain.outreach.direct_send import DirectSendFailed
from intake_service.web.admin import bp, clinic, settings
from intake_service.web.admin.forms import ROLE_LABELS, InviteForm
from intake_service.web.staff.session import actor, admin_required, me


def _page(form: InviteForm | None = None, status: int = 200) -> ResponseReturnValue:
    with get_db().session() as session:
        users = list_users(session)
        mine = management.get_user(session, me().id)
        my_phone = mine.phone
    return (
        render_template(
            "admin/users.html",
            users=users,
            form=form or InviteForm(formdata=None),
            role_labels=ROLE_LABELS,
            my_phone=my_phone,
            unusable_hash=invites.UNUSABLE_HASH,
        ),
        status,
    )


@bp.get("/users")
@admin_required
def user_list() -> ResponseReturnValue:
    return _page()


def _send(issued: invites.Issued, role: str | None, what: str) -> None:
    db = get_db()
    with db.session() as session:
        clinic_name = clinic(session).name
    try:
        invites.send_link(db, settings(), issued, clinic_name, role)
    except DirectSendFailed as failed:
        flash(
            f"The {what} for {issued.email} was made, but its email could not be sent "
            f"({failed.reason}). Try again: a new link replaces the old one.",
            "error",
        )
        return
    flash(f"A one-time link was emailed to {issued.email}; it works once, for a limited time.")


@bp.post("/users/invite")
@admin_required
def user_invite() -> ResponseReturnValue:
    form = InviteForm()
    if not form.validate():
        flash("Enter the person's email address and pick a role.", "error")
        return _page(form, 400)
    try:
        with get_db().transaction() as session:
            issued = invites.invite(
                session,
                form.email.data or "",
                form.role.data,
                form.name.data or "",
                actor(),
                utcnow(),
            )
    except AccountError as error:
        flash(f"Not invited: {error}.", "error")
        return _page(form, 422)
    _send(issued, form.role.data, "invitation")
    return redirect(url_for("admin.user_list"), code=303)


def _change(user_id: int, change: str) -> ResponseReturnValue:
    try:
        with get_db().transaction() as session:
            if change == "role":
                user = management.change_role(
                    session, user_id, request.form.get("role", ""), actor()
                )
                message = f"{user.email} is now {ROLE_LABELS[user.role].lower()}."
            elif change == "disable":
                user = management.disable(session, user_id, actor())
                message = f"{user.email} is disabled; their sessions have ended."
            else:
                user = management.enable(session, user_id, actor())
                message = f"{user.email} can sign in again."
    except UnknownUser:
        flash("That account no longer exists.", "error")
        return redirect(url_for("admin.user_list"), code=303)
    except AccountError as error:
        flash(f"Not changed: {error}.", "error")
        return redirect(url_for("admin.user_list"), code=303)
    flash(message)
    if change == "role" and user_id == me().id:
        # You demoted yourself: the admin pages are no longer yours.
        return redirect(url_for("staff.inbox"), code=303)
    return redirect(url_for("admin.user_list"), code=303)


@bp.post("/users/<int:user_id>/role")
@admin_required
def user_role(user_id: int) -> ResponseReturnValue:
    return _change(user_id, "role")


@bp.post("/users/<int:user_id>/disable")
@admin_required
def user_disable(user_id: int) -> ResponseReturnValue:
    return _change(user_id, "disable")


@bp.post("/users/<int:user_id>/enable")
@admin_required
def user_enable(user_id: int) -> ResponseReturnValue:
    return _change(user_id, "enable")


@bp.post("/users/<int:user_id>/sign-out")
@admin_required
def user_sign_out(user_id: int) -> ResponseReturnValue:
    try:
        with get_db().transaction() as db_session:
            user = management.revoke_sessions(db_session, user_id, actor())
            email = user.email
    except UnknownUser:
        flash("That account no longer exists.", "error")
        return redirect(url_for("admin.user_list"), code=303)
    if user_id == me().id:
        # This session was one of them: end it here too, as signing out does.
        logout_user()
        browser_session.clear()
        flash("You are signed out everywhere, here too.")
        return redirect(url_for("staff.login"), code=303)
    flash(f"{email} is signed out everywhere: their next click asks them to sign in again.")
    return redirect(url_for("admin.user_list"), code=303)


@bp.post("/users/<int:user_id>/reset")
@admin_required
def user_reset(user_id: int) -> ResponseReturnValue:
    if user_id == me().id:
        flash("To change your own password, ask another administrator to reset it.", "error")
        return redirect(url_for("admin.user_list"), code=303)
    try:
        with get_db().transaction() as session:
            issued = invites.start_reset(session, user_id, actor(), utcnow())
    except UnknownUser:
        flash("That account no longer exists.", "error")
        return redirect(url_for("admin.user_list"), code=303)
    except AccountError as error:
        flash(f"Not reset: {error}.", "error")
        return redirect(url_for("admin.user_list"), code=303)
    _send(issued, None, "password reset")
    return redirect(url_for("admin.user_list"), code=303)


@bp.post("/users/me/phone")
@admin_required
def user_my_phone() -> ResponseReturnValue:
    try:
        with get_db().transaction() as session:
            user = management.set_phone(session, me().id, request.form.get("phone", ""), actor())
            phone = user.phone
    except AccountError as error:
        flash(f"Phone not saved: {error}", "error")
        return redirect(url_for("admin.user_list") + "#my-phone", code=303)
    flash("Test texts will go to your phone." if phone else "Your phone was removed.")
    return redirect(url_for("admin.user_list") + "#my-phone", code=303)
