"""“Sign out everywhere” on the admin users page: every session of the account ends at its
next request, the account stays usable, the admin's action is audited; admins only, CSRF."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.models import AuditEvent
from tests.support import factories
from tests.web.admin.conftest import csrf_token_of


@pytest.fixture
def admin(sign_in: Callable[..., Any]) -> Any:
    return sign_in("admin")


def revoked(db: Database) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "user.sessions_revoked"))
        )


def sent_to_login(response: Any) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_every_session_of_the_account_is_sent_to_sign_in(
    admin: Any, sign_in: Callable[..., Any], db: Database, accounts: dict[str, tuple[int, str]]
) -> None:
    user_id, email = accounts["coordinator"]
    laptop, phone = sign_in("coordinator"), sign_in("coordinator")
    clinician = sign_in("clinician")
    assert laptop.get("/staff/leads").status_code == 200
    assert phone.get("/staff/leads").status_code == 200

    page = admin.get("/admin/users").get_data(as_text=True)
    assert f'action="/admin/users/{user_id}/sign-out"' in page
    response = admin.post(f"/admin/users/{user_id}/sign-out")
    assert response.status_code == 303
    assert f"{email} is signed out everywhere" in admin.get(response.headers["Location"]).text

    assert sent_to_login(laptop.get("/staff/leads"))
    assert sent_to_login(phone.get("/staff/leads"))
    assert clinician.get("/staff/leads").status_code == 200  # nobody else's
    assert admin.get("/admin/users").status_code == 200
    (event,) = revoked(db)
    assert (event.actor_id, event.actor_email, event.detail) == (
        *accounts["admin"],
        {"user_id": user_id},
    )
    assert event.at is not None
    # The password still works: the person signs in again.
    again = sign_in("coordinator")
    assert again.get("/staff/leads").status_code == 200


def test_an_admin_signing_themselves_out_everywhere_ends_this_session_too(
    admin: Any, sign_in: Callable[..., Any], accounts: dict[str, tuple[int, str]]
) -> None:
    elsewhere = sign_in("admin")
    response = admin.post(f"/admin/users/{accounts['admin'][0]}/sign-out")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "signed out everywhere, here too" in admin.get("/login").text
    assert sent_to_login(admin.get("/admin/users"))
    assert sent_to_login(elsewhere.get("/admin/users"))


def test_an_unknown_account_is_said_clearly(admin: Any, db: Database) -> None:
    response = admin.post("/admin/users/424242/sign-out")
    assert response.status_code == 303
    assert "no longer exists" in admin.get(response.headers["Location"]).text
    assert revoked(db) == []


def test_clinicians_and_coordinators_cannot_sign_anyone_out(
    sign_in: Callable[..., Any], db: Database, accounts: dict[str, tuple[int, str]]
) -> None:
    target = sign_in("admin")
    for role in ("clinician", "coordinator"):
        client = sign_in(role)
        response = client.post(f"/admin/users/{accounts['admin'][0]}/sign-out")
        assert response.status_code == 403, role
    assert target.get("/admin/users").status_code == 200
    assert revoked(db) == []


def test_a_post_without_the_csrf_token_is_refused(
    strict_app: Flask, strict_sign_in: Callable[..., Any]
) -> None:
    db: Database = strict_app.extensions["intake.db"]
    admin = strict_sign_in("admin")
    with db.transaction() as session:
        target = factories.user(session, "coordinator")
        target_id, target_email = target.id, target.email
    victim = strict_app.test_client()
    token = csrf_token_of(victim.get("/login").text)
    victim.post(
        "/login",
        data={"email": target_email, "password": factories.STAFF_PASSWORD, "csrf_token": token},
    )
    assert victim.get("/staff/leads").status_code == 200
    assert admin.post(f"/admin/users/{target_id}/sign-out").status_code == 400
    assert victim.get("/staff/leads").status_code == 200
    assert revoked(db) == []
    token = csrf_token_of(admin.get("/admin/users").text)
    done = admin.post(f"/admin/users/{target_id}/sign-out", data={"csrf_token": token})
    assert done.status_code == 303 and sent_to_login(victim.get("/staff/leads"))
