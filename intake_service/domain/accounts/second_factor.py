"""The optional second factor of a staff account: enrol, confirm, verify at sign-in, remove.

Enrolment stores a new secret (encrypted) and shows it once, as text and as an otpauth://
address; it takes effect only when a code from the authenticator proves the secret was copied.
At sign-in a wrong code counts towards the same lockout as a wrong password.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from intake_service.domain.accounts import signin
from intake_service.domain.compliance import audit
from intake_service.models import User
from intake_service.security import totp


class BadCode(Exception):
    """The code is wrong, expired or already used."""


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise signin.BadCredentials()
    return user


def begin_enrolment(session: Session, user_id: int) -> str:
    """A new secret for the account, pending until confirmed (not committed). Returns it.

    Asked again before confirming, it replaces the pending one: a secret is shown only once.
    Raises BadCredentials for an unknown or disabled account, ValueError if already enrolled.
    """
    user = _user(session, user_id)
    if user.totp_enabled_at is not None:
        raise ValueError("this account already has a second factor; remove it first")
    user.totp_secret = totp.new_secret()
    user.totp_last_step = None
    return user.totp_secret


def confirm_enrolment(
    session: Session, user_id: int, code: str, now: dt.datetime, actor: audit.Actor
) -> None:
    """Turn the second factor on with a code from the new secret (not committed).

    Raises BadCode, or ValueError when there is no pending secret.
    """
    user = _user(session, user_id)
    if user.totp_secret is None or user.totp_enabled_at is not None:
        raise ValueError("start enrolment first")
    step = totp.matching_step(user.totp_secret, code, now, None)
    if step is None:
        raise BadCode()
    user.totp_enabled_at = now
    user.totp_last_step = step
    audit.record(session, actor, "auth.totp_enrolled", detail={"user_id": user.id}, at=now)


def verify_code(session: Session, user_id: int, code: str, address: str, now: dt.datetime) -> User:
    """Complete a sign-in whose password was right (not committed; commit either way).

    Raises LockedOut, BadCode (recorded as a failure), or BadCredentials if the account is
    gone or disabled meanwhile.
    """
    user = _user(session, user_id)
    if user.totp_secret is None or user.totp_enabled_at is None:
        raise signin.BadCredentials()
    signin.check_lockout(session, user.email, address, now)
    step = totp.matching_step(user.totp_secret, code, now, user.totp_last_step)
    if step is None:
        actor = audit.Actor(user.id, user.email, address[:64])
        signin.record_failure(session, actor, "auth.totp_failed", now)
        raise BadCode()
    user.totp_last_step = step
    signin.complete_sign_in(session, user, address, now)
    return user


def remove(session: Session, user_id: int, actor: audit.Actor, now: dt.datetime) -> None:
    """Turn the second factor off (a lost phone; an admin's or the owner's act), ending the
    account's sessions (not committed). Raises BadCredentials for an unknown account."""
    user = session.get(User, user_id)
    if user is None:
        raise signin.BadCredentials()
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.session_version += 1
    audit.record(session, actor, "auth.totp_disabled", detail={"user_id": user.id}, at=now)


def is_enabled(session: Session, user_id: int) -> bool:
    user = session.get(User, user_id)
    return user is not None and user.totp_enabled_at is not None


def remove_with_code(
    session: Session, user_id: int, code: str, actor: audit.Actor, now: dt.datetime
) -> None:
    """The owner turns the factor off, proving it with a current code (not committed).

    Raises BadCode.
    """
    user = _user(session, user_id)
    if user.totp_secret is None or totp.matching_step(user.totp_secret, code, now, None) is None:
        raise BadCode()
    remove(session, user_id, actor, now)
