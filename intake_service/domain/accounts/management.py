"""What an admin changes about staff accounts: role, active or not, their own test phone.

The clinic always keeps an active admin: the last one cannot be disabled or demoted (only the
command line, run by whoever runs the server, can recover from a clinic with none).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.domain.accounts.users import AccountError, UnknownUser
from intake_service.domain.compliance import audit
from intake_service.domain.intake.contact import InvalidContact, normalize_phone
from intake_service.models import User
from intake_service.models.user import ROLES


class LastAdmin(AccountError):
    """The change would leave the clinic with no active administrator."""


def get_user(session: Session, user_id: int) -> User:
    """Raises UnknownUser."""
    user = session.get(User, user_id)
    if user is None:
        raise UnknownUser(str(user_id))
    return user


def _guard_last_admin(session: Session, user: User) -> None:
    if user.role != "admin" or not user.active:
        return
    # Locked, so two admins demoting each other at once cannot both pass (PostgreSQL; SQLite
    # has one writer at a time anyway).
    admins = session.scalars(
        select(User.id).where(User.role == "admin", User.active.is_(True)).with_for_update()
    ).all()
    if list(admins) == [user.id]:
        raise LastAdmin(
            f"{user.email} is the only active administrator; make someone else an admin first"
        )


def change_role(session: Session, user_id: int, role: str, actor: audit.Actor) -> User:
    """Give an account another role (not committed); raises UnknownUser, AccountError, LastAdmin.

    Sessions carry the role they signed in with, so the account's sessions end: the next
    request signs in again with the new role.
    """
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    user = get_user(session, user_id)
    if user.role == role:
        return user
    if user.role == "admin":
        _guard_last_admin(session, user)
    before, user.role = user.role, role
    user.session_version += 1
    audit.record(
        session,
        actor,
        "user.role_changed",
        detail={"user_id": user.id, "before": before, "after": role},
    )
    return user


def disable(session: Session, user_id: int, actor: audit.Actor) -> User:
    """Disable an account and end its sessions (not committed).

    Raises UnknownUser, LastAdmin, or AccountError for one's own account.
    """
    user = get_user(session, user_id)
    if user.id == actor.id:
        raise AccountError("you cannot disable your own account; ask another administrator")
    if not user.active:
        return user
    _guard_last_admin(session, user)
    user.active = False
    user.session_version += 1
    audit.record(session, actor, "user.disabled", detail={"user_id": user.id})
    return user


def enable(session: Session, user_id: int, actor: audit.Actor) -> User:
    """Let a disabled account sign in again (not committed); raises UnknownUser."""
    user = get_user(session, user_id)
    if not user.active:
        user.active = True
        audit.record(session, actor, "user.enabled", detail={"user_id": user.id})
    return user


def set_phone(session: Session, user_id: int, phone: str, actor: audit.Actor) -> User:
    """Set (or with "" clear) the account's own mobile for test texts (not committed).

    Raises UnknownUser, or AccountError for a number that is not one.
    """
    user = get_user(session, user_id)
    value = None
    if phone.strip():
        try:
            value = normalize_phone(phone)
        except InvalidContact as error:
            raise AccountError(str(error)) from None
    if value != user.phone:
        user.phone = value
        audit.record(session, actor, "user.phone_changed", detail={"user_id": user.id})
    return user


def revoke_sessions(session: Session, user_id: int, actor: audit.Actor) -> User:
    """Sign the account out everywhere (not committed); raises UnknownUser.

    Every session carries the account's session version; bumping it makes each one stale on
    its next request, wherever the cookie is (a lost laptop, a shared computer). The account
    itself stays usable: the person signs in again.
    """
    user = get_user(session, user_id)
    user.session_version += 1
    audit.record(session, actor, "user.sessions_revoked", detail={"user_id": user.id})
    return user
