"""Who is signed in: Flask-Login's user, the role guards, and the idle timeout."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, redirect, request, session, url_for
from flask_login import AnonymousUserMixin, current_user, login_user, logout_user

from intake_service.db import get_db, utcnow
from intake_service.domain.compliance import audit
from intake_service.extensions import client_address, login_manager
from intake_service.models import User
from intake_service.models.user import ROLES

F = TypeVar("F", bound=Callable[..., Any])
SEEN_KEY = "staff.seen"
SINCE_KEY = "staff.since"
# However active, a session ends after a shift: a copied cookie cannot live on for ever.
MAX_SESSION = dt.timedelta(hours=12)
# Requests the page makes on its own (the inbox's live poll) say so, and do not count as
# activity: otherwise an open tab would keep a session alive for ever.
BACKGROUND_HEADER = "X-Background"
# Activity is noted at most this often, so a burst of requests (typing in the template editor,
# each keystroke a preview) does not rewrite the cookie each time; the idle limit is minutes.
SEEN_EVERY = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class StaffUser:
    """The signed-in account as Flask-Login sees it: plain values, no database session."""

    id: int
    email: str
    role: str
    label: str
    session_version: int
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        # The version makes a disabled account's or a changed password's sessions stale.
        return f"{self.id}:{self.session_version}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, user: User) -> StaffUser:
        return cls(user.id, user.email, user.role, user.label, user.session_version)


def actor() -> audit.Actor:
    """The current person, for the audit trail and lead events."""
    user = cast(StaffUser, current_user)
    return audit.Actor(user.id, user.email, client_address())


def me() -> StaffUser:
    return cast(StaffUser, current_user)


@login_manager.user_loader
def _load(user_key: str) -> StaffUser | None:
    user_id, _, version = user_key.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    with get_db().session() as db_session:
        user = db_session.get(User, int(user_id))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return StaffUser.of(user)


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


@login_manager.unauthorized_handler
def _unauthorized() -> Response:
    target = url_for("staff.login", next=safe_next(request.full_path.rstrip("?")))
    if _is_htmx():
        # htmx follows HX-Redirect with a full page load instead of swapping a login form in.
        response = Response("Your session has ended; sign in again.", status=401)
        response.headers["HX-Redirect"] = target
        return response
    return cast(Response, redirect(target))


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: `next` must not leave the site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    # Browsers drop tabs and line breaks and read a backslash as a slash; any control or space
    # character is refused, so "/\t/evil.example" cannot become "//evil.example".
    if (
        parts.scheme
        or parts.netloc
        or any(c == "\\" or ord(c) <= 0x20 or ord(c) == 0x7F for c in target)
    ):
        return None
    return target


def staff_required(view: F) -> F:
    """Any active staff account; others are sent to sign in."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _unauthorized()
        if me().role not in ROLES:
            return Response("This page is for clinic staff.", status=403)
        return view(*args, **kwargs)

    return cast(F, wrapped)


def admin_required(view: F) -> F:
    """Admins only: clinicians and coordinators get 403, never the page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _unauthorized()
        if me().role != "admin":
            from werkzeug.exceptions import Forbidden

            raise Forbidden("Only administrators can open this page.")
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _idle_check() -> Response | None:
    if not current_user.is_authenticated:
        return None
    now = utcnow().timestamp()
    idle = dt.timedelta(minutes=current_app.extensions["intake.settings"].staff_idle_minutes)
    seen, since = session.get(SEEN_KEY), session.get(SINCE_KEY)
    # Seconds since the activity last noted, None in a session that noted none.
    quiet = now - seen if isinstance(seen, (int, float)) else None
    too_old = isinstance(since, (int, float)) and now - since > MAX_SESSION.total_seconds()
    if too_old or (quiet is not None and quiet > idle.total_seconds()):
        who = actor()
        with get_db().transaction() as db_session:
            audit.record(db_session, who, "auth.session_expired", at=utcnow())
        logout_user()
        session.clear()
        session["staff.expired"] = True
        return _unauthorized()
    noted_lately = quiet is not None and quiet < SEEN_EVERY.total_seconds()
    if not noted_lately and request.headers.get(BACKGROUND_HEADER) != "1":
        session[SEEN_KEY] = now
    return None


def start_session(user: StaffUser) -> None:
    """Sign `user` in on a fresh session: nothing from before (a planted id, an old CSRF token)
    carries over, and a new cookie replaces the old one."""
    session.clear()
    session.permanent = True
    login_user(user)
    now = utcnow().timestamp()
    session[SEEN_KEY] = now
    session[SINCE_KEY] = now


class _Anonymous(AnonymousUserMixin):
    role = None
    label = None
    is_admin = False


def init_session(app: Flask) -> None:
    login_manager.anonymous_user = _Anonymous
    login_manager.session_protection = "basic"
    app.before_request(_idle_check)
