"""Sessions rotated on sign-in, ended by sign-out everywhere, revocable by an admin, capped in
age; the optional TOTP second factor: enrolment shown once, codes at sign-in, no replay."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from intake_service.cli import main
from intake_service.db import Database, utcnow
from intake_service.domain.accounts import users as accounts_domain
from intake_service.domain.compliance import audit
from intake_service.models import AuditEvent, User
from intake_service.security import totp
from intake_service.web.staff.session import SINCE_KEY
from tests.conftest import base_env
from tests.support import factories


def login(client: Any, email: str, password: str = factories.STAFF_PASSWORD) -> Any:
    return client.post("/login", data={"email": email, "password": password})


def kinds(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(sa.select(AuditEvent.kind).order_by(AuditEvent.id)))


def enrol(client: Any) -> str:
    """Set up a second factor through the account page; returns the secret shown."""
    page = client.post("/staff/account/second-factor")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    secret = re.search(r'id="secret" type="text" readonly value="([A-Z2-7 ]+)"', text)
    uri = re.search(r'id="uri" type="text" readonly value="([^"]+)"', text)
    assert secret and uri, text
    plain = secret.group(1).replace(" ", "")
    assert html.unescape(uri.group(1)).startswith("otpauth://totp/")
    assert f"secret={plain}" in html.unescape(uri.group(1))
    done = client.post(
        "/staff/account/second-factor/confirm", data={"code": totp.code_at(plain, utcnow())}
    )
    assert done.status_code == 303
    return plain


def test_sign_in_gives_a_fresh_session(client: Any, accounts: dict[str, Any]) -> None:
    with client.session_transaction() as planted:
        planted["planted"] = "by an attacker"
        planted["_user_id"] = "1:1"
    client.get("/login")
    before = client.get_cookie("session").value
    assert login(client, accounts["coordinator"][1]).status_code == 303
    after = client.get_cookie("session").value
    assert before != after
    with client.session_transaction() as fresh:
        assert "planted" not in fresh
        assert fresh[SINCE_KEY]


def test_sign_out_ends_every_copy_of_the_session(
    app: Flask, sign_in: Callable[..., Any], accounts: dict[str, Any]
) -> None:
    client = sign_in("coordinator")
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/staff/leads").status_code == 200
    other_device = sign_in("coordinator")

    assert client.post("/logout").status_code == 303

    assert copy.get("/staff/leads").status_code == 302
    assert other_device.get("/staff/leads").status_code == 302


def test_admin_revokes_every_session_of_an_account(
    sign_in: Callable[..., Any], db: Database, accounts: dict[str, Any]
) -> None:
    client = sign_in("clinician")
    assert client.get("/staff/leads").status_code == 200
    with db.transaction() as session:
        accounts_domain.revoke_sessions(session, accounts["clinician"][1], audit.Actor(1, "admin"))

    assert client.get("/staff/leads").status_code == 302
    assert "user.sessions_revoked" in kinds(db)


def test_revoke_sessions_from_the_command_line(tmp_path: Any, app: Flask) -> None:
    env = base_env(tmp_path / "instance")
    with app.extensions["intake.db"].transaction() as session:
        factories.user(session, "clinician", email="dr@clinic.example")
    runner = CliRunner()
    done = runner.invoke(
        main, ["users", "revoke-sessions", "--email", "DR@clinic.example"], env=env
    )
    assert done.exit_code == 0 and "ended every session" in done.output
    missing = runner.invoke(main, ["users", "revoke-sessions", "--email", "x@y.example"], env=env)
    assert missing.exit_code == 1


def test_a_session_ends_after_twelve_hours_however_active(sign_in: Callable[..., Any]) -> None:
    client = sign_in("coordinator")
    with client.session_transaction() as state:
        state[SINCE_KEY] = (utcnow() - dt.timedelta(hours=12, minutes=1)).timestamp()
    assert client.get("/staff/leads").status_code == 302


def test_second_factor_enrolment_then_sign_in_with_a_code(
    sign_in: Callable[..., Any], client: Any, accounts: dict[str, Any], db: Database
) -> None:
    email = accounts["clinician"][1]
    secret = enrol(sign_in("clinician"))
    assert "auth.totp_enrolled" in kinds(db)
    with db.engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT totp_secret FROM users WHERE email = :e"), {"e": email}
        ).scalar_one()
    assert secret not in stored, "the secret is encrypted at rest"

    first = login(client, email)
    assert first.status_code == 303 and first.headers["Location"] == "/login/code"
    assert client.get("/staff/leads").status_code == 302, "the password alone signs nobody in"
    wrong = client.post("/login/code", data={"code": "000000"})
    assert wrong.status_code == 401
    # The next step's code: the current one was used up by the enrolment (no replay).
    code = totp.code_at(secret, utcnow() + dt.timedelta(seconds=totp.STEP_SECONDS))
    right = client.post("/login/code", data={"code": code})
    assert right.status_code == 303 and right.headers["Location"] == "/staff/leads"
    assert client.get("/staff/leads").status_code == 200

    elsewhere = client.application.test_client()
    assert login(elsewhere, email).status_code == 303
    again = elsewhere.post("/login/code", data={"code": code})
    assert again.status_code == 401, "a code is good once"
    assert "auth.totp_failed" in kinds(db)


def test_wrong_codes_lock_the_account_like_wrong_passwords(
    sign_in: Callable[..., Any], client: Any, accounts: dict[str, Any]
) -> None:
    email = accounts["clinician"][1]
    enrol(sign_in("clinician"))
    for _ in range(5):
        assert login(client, email).status_code == 303
        client.post("/login/code", data={"code": "123456"})
    # A right password no longer helps: it is not a success until the code is right.
    assert login(client, email).status_code == 429


def test_the_code_step_expires(
    sign_in: Callable[..., Any], client: Any, accounts: dict[str, Any]
) -> None:
    email = accounts["clinician"][1]
    secret = enrol(sign_in("clinician"))
    login(client, email)
    with client.session_transaction() as state:
        pending = dict(state["staff.pending"])
        pending["at"] -= 301
        state["staff.pending"] = pending
    next_code = totp.code_at(secret, utcnow() + dt.timedelta(seconds=totp.STEP_SECONDS))
    late = client.post("/login/code", data={"code": next_code})
    assert late.status_code == 303 and late.headers["Location"] == "/login"
    assert client.get("/staff/leads").status_code == 302


def test_second_factor_is_removed_with_a_current_code_or_by_the_cli(
    sign_in: Callable[..., Any], db: Database, accounts: dict[str, Any], tmp_path: Any
) -> None:
    client = sign_in("clinician")
    secret = enrol(client)
    refused = client.post("/staff/account/second-factor/remove", data={"code": "111111"})
    assert refused.status_code == 303
    with db.session() as session:
        assert (
            session.scalars(sa.select(User).where(User.email == accounts["clinician"][1]))
            .one()
            .totp_enabled_at
        )

    # The owner's phone is lost: an admin removes it from the command line.
    env = base_env(tmp_path / "instance")
    done = CliRunner().invoke(
        main, ["users", "remove-second-factor", "--email", accounts["clinician"][1]], env=env
    )
    assert done.exit_code == 0, done.output
    with db.session() as session:
        user = session.scalars(sa.select(User).where(User.email == accounts["clinician"][1])).one()
        assert user.totp_enabled_at is None and user.totp_secret is None
    assert client.get("/staff/leads").status_code == 302  # its sessions ended
    assert secret


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused_without_an_error(code: str) -> None:
    assert totp.matching_step(totp.new_secret(), code, utcnow(), None) is None
