"""Staff accounts: create, list, disable, look up."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.models import User
from intake_service.models.user import ROLES
from intake_service.security.passwords import check_strength, hash_password


class AccountError(ValueError):
    """An account cannot be created or changed as asked; the message says why."""


class UnknownUser(LookupError):
    """No account has that email address."""


def normalise_email(email: str) -> str:
    """The address as stored: validated, lower-cased. Raises AccountError."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise AccountError(f"not a usable email address: {error}") from None


def create_user(
    session: Session, email: str, role: str, password: str, actor: audit.Actor, name: str = ""
) -> User:
    """Add an active account (not committed); raises AccountError or passwords.WeakPassword."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    address = normalise_email(email)
    # Nor built on what an attacker knows of the account: its address and its name.
    check_strength(password, context=(address.split("@", 1)[0], *name.split()))
    if session.scalars(select(User).where(User.email == address)).first() is not None:
        raise AccountError(f"an account for {address} already exists")
    user = User(email=address, role=role, display_name=name.strip(), password_hash="")
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", detail={"user_id": user.id, "role": role})
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()


def active_staff(session: Session) -> list[User]:
    """Accounts that can be given leads, by name."""
    users = session.scalars(select(User).where(User.active.is_(True)))
    return sorted(users, key=lambda u: u.label.lower())


def disable_user(session: Session, email: str, actor: audit.Actor) -> User:
    """Disable an account and end its sessions (not committed); raises UnknownUser."""
    user = find_by_email(session, email)
    if user is None:
        raise UnknownUser(email)
    if user.active:
        user.active = False
        user.session_version += 1
        audit.record(session, actor, "user.disabled", detail={"user_id": user.id})
    return user


def revoke_sessions(session: Session, email: str, actor: audit.Actor) -> User:
    """End every open session of the account at once (not committed); raises UnknownUser.

    Sessions carry the account's session version; bumping it makes each of them stale on its
    next request, wherever the cookie is (a lost laptop, a copied cookie).
    """
    user = find_by_email(session, email)
    if user is None:
        raise UnknownUser(email)
    user.session_version += 1
    audit.record(session, actor, "user.sessions_revoked", detail={"user_id": user.id})
    return user


def end_sessions(session: Session, user_id: int) -> None:
    """End the account's open sessions, as signing out does (not committed; not audited here)."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_version += 1
