"""One-time links, role changes and the clinic's last administrator."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from intake_service.db import Database, utcnow
from intake_service.domain.accounts import invites, management, signin
from intake_service.domain.accounts.users import AccountError
from intake_service.domain.compliance.audit import Actor
from intake_service.models import AccountLink, AuditEvent, User
from intake_service.security.passwords import WeakPassword
from tests.support import factories

NEW_PASSWORD = "a brand new passphrase for me"


def actor_for(db: Database, role: str = "admin", **fields: object) -> tuple[Actor, int]:
    with db.transaction() as session:
        user = factories.user(session, role, **fields)
        return Actor(user.id, user.email), user.id


def test_an_invitation_link_creates_the_account_once(db: Database) -> None:
    admin, _ = actor_for(db)
    now = utcnow()
    with db.transaction() as session:
        issued = invites.invite(session, " Nurse@Clinic.example ", "clinician", "Nia", admin, now)
    assert issued.email == "nurse@clinic.example"
    with db.session() as session:
        stored = session.scalars(sa.select(AccountLink)).one()
        assert stored.token_hash != issued.token and len(stored.token_hash) == 64
    with db.transaction() as session:
        user = invites.complete(session, issued.token, NEW_PASSWORD, now)
        assert (user.email, user.role, user.display_name) == (
            "nurse@clinic.example",
            "clinician",
            "Nia",
        )
    with db.transaction() as session:
        assert signin.authenticate(session, "nurse@clinic.example", NEW_PASSWORD, "1.2.3.4", now)
    with pytest.raises(invites.LinkInvalid), db.transaction() as session:
        invites.complete(session, issued.token, NEW_PASSWORD, now)


def test_links_expire_and_a_newer_one_replaces_the_older(db: Database) -> None:
    admin, _ = actor_for(db)
    now = utcnow()
    with db.transaction() as session:
        old = invites.invite(session, "a@clinic.example", "coordinator", "", admin, now)
        new = invites.invite(session, "a@clinic.example", "coordinator", "", admin, now)
    with db.session() as session:
        with pytest.raises(invites.LinkInvalid):
            invites.find(session, old.token, now)
        assert invites.find(session, new.token, now)
        with pytest.raises(invites.LinkInvalid):
            invites.find(session, new.token, now + dt.timedelta(hours=73))
        with pytest.raises(invites.LinkInvalid):
            invites.find(session, "not-a-token", now)


def test_an_invitation_is_refused_for_an_existing_account_or_a_bad_role(db: Database) -> None:
    admin, _ = actor_for(db, email="boss@clinic.example")
    with pytest.raises(AccountError, match="already exists"), db.transaction() as session:
        invites.invite(session, "boss@clinic.example", "admin", "", admin, utcnow())
    with pytest.raises(AccountError, match="role must be"), db.transaction() as session:
        invites.invite(session, "x@clinic.example", "owner", "", admin, utcnow())
    with db.transaction() as session:
        issued = invites.invite(session, "short@clinic.example", "admin", "", admin, utcnow())
    with pytest.raises(WeakPassword), db.transaction() as session:
        invites.complete(session, issued.token, "short", utcnow())


def test_a_reset_locks_the_old_password_and_sessions_at_once(db: Database) -> None:
    admin, _ = actor_for(db)
    _, nurse_id = actor_for(db, "clinician", email="nurse@clinic.example")
    now = utcnow()
    with db.transaction() as session:
        before = session.get_one(User, nurse_id).session_version
        issued = invites.start_reset(session, nurse_id, admin, now)
    with pytest.raises(signin.BadCredentials), db.transaction() as session:
        signin.authenticate(
            session, "nurse@clinic.example", factories.STAFF_PASSWORD, "1.1.1.1", now
        )
    with db.transaction() as session:
        invites.complete(session, issued.token, NEW_PASSWORD, now)
    with db.transaction() as session:
        user = signin.authenticate(session, "nurse@clinic.example", NEW_PASSWORD, "1.1.1.1", now)
        assert user.session_version >= before + 2
        kinds = set(session.scalars(sa.select(AuditEvent.kind)))
    assert {"user.password_reset", "user.password_set"} <= kinds


def test_the_last_admin_cannot_be_demoted_or_disabled(db: Database) -> None:
    admin, admin_id = actor_for(db)
    other, other_id = actor_for(db, "coordinator")
    with pytest.raises(management.LastAdmin), db.transaction() as session:
        management.change_role(session, admin_id, "clinician", other)
    with pytest.raises(management.LastAdmin), db.transaction() as session:
        management.disable(session, admin_id, other)
    with pytest.raises(AccountError, match="your own account"), db.transaction() as session:
        management.disable(session, admin_id, admin)
    # With a second admin, the first may step down.
    with db.transaction() as session:
        management.change_role(session, other_id, "admin", admin)
        user = management.change_role(session, admin_id, "coordinator", admin)
        assert user.role == "coordinator"
        events = list(
            session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "user.role_changed"))
        )
    assert [(e.detail["before"], e.detail["after"]) for e in events] == [
        ("coordinator", "admin"),
        ("admin", "coordinator"),
    ]


def test_disable_enable_and_own_phone(db: Database) -> None:
    admin, admin_id = actor_for(db)
    _, nurse_id = actor_for(db, "clinician")
    with db.transaction() as session:
        assert management.disable(session, nurse_id, admin).active is False
        assert management.enable(session, nurse_id, admin).active is True
        assert (
            management.set_phone(session, admin_id, "(310) 555-0199", admin).phone == "+13105550199"
        )
        assert management.set_phone(session, admin_id, "", admin).phone is None
    with pytest.raises(AccountError), db.transaction() as session:
        management.set_phone(session, admin_id, "12", admin)
