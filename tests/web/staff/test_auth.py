"""Signing in and out, lockout, `next`, idle timeout, cookies, roles and CSRF."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain.accounts import signin
from intake_service.models import AuditEvent
from tests.support import factories


def kinds(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(sa.select(AuditEvent.kind).order_by(AuditEvent.id)))


def test_staff_pages_send_anonymous_visitors_to_sign_in(client: Any) -> None:
    for path in ("/staff/leads", "/staff/callbacks", "/staff/dashboard", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_sign_in_lands_on_next_and_records_the_login(
    client: Any, accounts: dict[str, Any], db: Database
) -> None:
    response = client.post(
        "/login",
        data={
            "email": "COORDINATOR@clinic.example",
            "password": factories.STAFF_PASSWORD,
            "next": "/staff/callbacks",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/callbacks"
    assert client.get("/staff/callbacks").status_code == 200
    assert "auth.login" in kinds(db)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
    ],
)
def test_next_cannot_leave_the_site(client: Any, accounts: dict[str, Any], target: str) -> None:
    response = client.post(
        "/login",
        data={
            "email": accounts["coordinator"][1],
            "password": factories.STAFF_PASSWORD,
            "next": target,
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/leads"


def test_wrong_password_is_refused_without_saying_which_part(
    client: Any, accounts: dict[str, Any], db: Database
) -> None:
    wrong = client.post("/login", data={"email": accounts["admin"][1], "password": "nope"})
    nobody = client.post("/login", data={"email": "ghost@clinic.example", "password": "nope"})
    assert wrong.status_code == nobody.status_code == 401
    assert "do not match an active account" in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).count("do not match") == 1
    assert kinds(db).count("auth.login_failed") == 2


def test_account_locks_after_repeated_failures_even_with_the_right_password(
    client: Any, accounts: dict[str, Any], db: Database
) -> None:
    email = accounts["clinician"][1]
    for _ in range(signin.MAX_ACCOUNT_FAILURES):
        client.post("/login", data={"email": email, "password": "wrong password"})
    locked = client.post("/login", data={"email": email, "password": factories.STAFF_PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this account" in locked.get_data(as_text=True)
    assert "auth.locked_out" in kinds(db)


def test_address_locks_after_failures_across_accounts(
    client: Any, accounts: dict[str, Any]
) -> None:
    for n in range(signin.MAX_ADDRESS_FAILURES):
        client.post("/login", data={"email": f"spray{n}@clinic.example", "password": "x"})
    locked = client.post(
        "/login", data={"email": accounts["admin"][1], "password": factories.STAFF_PASSWORD}
    )
    assert locked.status_code == 429
    assert "from this network" in locked.get_data(as_text=True)


def test_lockout_lifts_after_the_window(db: Database, accounts: dict[str, Any]) -> None:
    email = accounts["admin"][1]
    start = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    with db.session() as session:
        for _ in range(signin.MAX_ACCOUNT_FAILURES):
            with pytest.raises(signin.BadCredentials):
                signin.authenticate(session, email, "bad", "10.0.0.1", start)
        with pytest.raises(signin.LockedOut):
            signin.authenticate(session, email, factories.STAFF_PASSWORD, "10.0.0.1", start)
        later = start + signin.WINDOW + dt.timedelta(seconds=1)
        user = signin.authenticate(session, email, factories.STAFF_PASSWORD, "10.0.0.1", later)
        assert user.email == email
        session.commit()


def test_disabled_account_cannot_sign_in_and_its_session_ends(
    sign_in: Callable[..., Any], client: Any, db: Database, accounts: dict[str, Any]
) -> None:
    signed_in = sign_in("coordinator")
    from intake_service.domain.accounts.users import disable_user
    from intake_service.domain.compliance.audit import Actor

    with db.transaction() as session:
        disable_user(session, accounts["coordinator"][1], Actor(None, "test"))
    assert signed_in.get("/staff/leads").status_code == 302
    refused = client.post(
        "/login", data={"email": accounts["coordinator"][1], "password": factories.STAFF_PASSWORD}
    )
    assert refused.status_code == 401


def test_logout_ends_the_session_and_is_audited(sign_in: Callable[..., Any], db: Database) -> None:
    client = sign_in("clinician")
    assert client.post("/logout").status_code == 303
    assert client.get("/staff/leads").status_code == 302
    assert "auth.logout" in kinds(db)


def test_idle_session_signs_itself_out(sign_in: Callable[..., Any], db: Database) -> None:
    client = sign_in("coordinator")
    with client.session_transaction() as session:
        session["staff.seen"] = session["staff.seen"] - 31 * 60
    response = client.get("/staff/leads")
    assert response.status_code == 302
    assert "auth.session_expired" in kinds(db)
    page = client.get(response.headers["Location"])
    assert "signed out after a period without activity" in page.get_data(as_text=True)


def test_background_polls_do_not_keep_a_session_alive(sign_in: Callable[..., Any]) -> None:
    client = sign_in("coordinator")
    with client.session_transaction() as session:
        session["staff.seen"] = before = session["staff.seen"] - 5 * 60
    since = dt.datetime.now(dt.UTC).isoformat()
    client.get(
        "/staff/leads/new-rows",
        query_string={"since": since},
        headers={"X-Background": "1", "HX-Request": "true"},
    )
    with client.session_transaction() as session:
        assert session["staff.seen"] == before


def test_requests_close_together_leave_the_cookie_alone(sign_in: Callable[..., Any]) -> None:
    """Only a changed session is sent back: a preview answered after a save cannot put back
    the cookie from before it (and lose the save's flash message)."""
    client = sign_in("coordinator")
    client.get("/staff/leads")  # the CSRF token, made on the first page, is in the session
    quiet = client.get("/staff/leads")
    assert quiet.status_code == 200
    assert "Set-Cookie" not in quiet.headers

    with client.session_transaction() as session:
        session["staff.seen"] = stale = session["staff.seen"] - 31
    noted = client.get("/staff/leads")
    assert "session=" in noted.headers.get("Set-Cookie", "")
    with client.session_transaction() as session:
        assert session["staff.seen"] > stale + 30


def test_expired_htmx_poll_is_told_to_redirect(client: Any) -> None:
    response = client.get(
        "/staff/leads/new-rows",
        query_string={"since": "2026-01-01T00:00:00+00:00"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize("role", ["clinician", "coordinator"])
def test_clinicians_and_coordinators_never_reach_admin(
    sign_in: Callable[..., Any], role: str
) -> None:
    client = sign_in(role)
    assert client.get("/admin/").status_code == 403
    assert client.get("/staff/leads").status_code == 200


def test_admin_reaches_admin(sign_in: Callable[..., Any]) -> None:
    assert sign_in("admin").get("/admin/").status_code == 200


def test_session_cookie_is_httponly_and_lax_and_secure_over_https(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(PUBLIC_BASE_URL="https://intake.clinic.example")
    app.config["WTF_CSRF_ENABLED"] = False
    db: Database = app.extensions["intake.db"]
    with db.transaction() as session:
        factories.user(session, "coordinator", email="c@clinic.example")
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": "c@clinic.example", "password": factories.STAFF_PASSWORD},
        base_url="https://intake.clinic.example",
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_forms_without_a_csrf_token_are_refused(make_app: Callable[..., Flask]) -> None:
    app = make_app()  # CSRF on, as in production
    db: Database = app.extensions["intake.db"]
    with db.transaction() as session:
        factories.user(session, "coordinator", email="c@clinic.example")
    client = app.test_client()
    response = client.post(
        "/login", data={"email": "c@clinic.example", "password": factories.STAFF_PASSWORD}
    )
    assert response.status_code == 400
    assert client.get("/staff/leads").status_code == 302
