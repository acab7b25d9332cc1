"""Signing in: check a password, with lockout per account and per address.

Lockout counts recent failures from the attempts table rather than a counter on the account,
so an address that sprays many accounts is stopped too, and a typed address with no account
locks the same way as one with an account (nothing reveals which addresses exist).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.models import LoginAttempt, User
from intake_service.security.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)

WINDOW = dt.timedelta(minutes=15)
MAX_ACCOUNT_FAILURES = 5
MAX_ADDRESS_FAILURES = 20


class BadCredentials(Exception):
    """The email and password do not match an active account."""


class LockedOut(Exception):
    """Too many recent failures for this account or from this address."""

    def __init__(self, scope: str, retry_after: dt.timedelta) -> None:
        self.scope = scope  # "account" | "address"
        self.minutes = max(1, math.ceil(retry_after.total_seconds() / 60))
        super().__init__(f"locked out ({scope}) for {self.minutes} min")


@dataclass(frozen=True)
class Lockout:
    scope: str
    until: dt.datetime


def _lockout(session: Session, email: str, address: str, now: dt.datetime) -> Lockout | None:
    since = now - WINDOW
    for scope, column, value, limit in (
        ("account", LoginAttempt.email, email, MAX_ACCOUNT_FAILURES),
        ("address", LoginAttempt.address, address, MAX_ADDRESS_FAILURES),
    ):
        # Failures since the last success: a correct password resets the count.
        last_success = session.scalar(
            select(func.max(LoginAttempt.at)).where(column == value, LoginAttempt.succeeded)
        )
        start = max(since, last_success) if last_success else since
        failures = list(
            session.scalars(
                select(LoginAttempt.at)
                .where(column == value, LoginAttempt.at > start, LoginAttempt.succeeded.is_(False))
                .order_by(LoginAttempt.at.desc())
                .limit(limit)
            )
        )
        if len(failures) >= limit:
            # Locked until the oldest counted failure leaves the window.
            return Lockout(scope, failures[-1] + WINDOW)
    return None


def check_password(
    session: Session, email: str, password: str, address: str, now: dt.datetime
) -> User:
    """The active account for these credentials, not yet signed in (not committed).

    Failures are recorded (they count towards lockout); a success is recorded only when the
    sign-in completes, so a known password cannot reset the count of wrong second-factor codes.
    Raises LockedOut before checking the password when locked, else BadCredentials.
    """
    email = email.strip().lower()[:320]
    address = address[:64]
    actor = audit.Actor(None, email, address)
    lockout = _lockout(session, email, address, now)
    if lockout is not None:
        audit.record(session, actor, "auth.locked_out", detail={"scope": lockout.scope}, at=now)
        raise LockedOut(lockout.scope, lockout.until - now)
    user = session.scalars(select(User).where(User.email == email)).first()
    ok = verify_password(user.password_hash if user else dummy_hash(), password)
    if user is None or not ok or not user.active:
        record_failure(session, actor, "auth.login_failed", now)
        raise BadCredentials()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def record_failure(session: Session, actor: audit.Actor, kind: str, now: dt.datetime) -> None:
    """A failed try (password or code) for `actor`'s email from its address, and any lockout."""
    email, address = actor.email or "", actor.address or "unknown"
    session.add(LoginAttempt(at=now, email=email, address=address, succeeded=False))
    audit.record(session, actor, kind, at=now)
    session.flush()
    if _lockout(session, email, address, now) is not None:
        audit.record(session, actor, "auth.locked_out", detail={"scope": "new"}, at=now)


def check_lockout(session: Session, email: str, address: str, now: dt.datetime) -> None:
    """Raise LockedOut (and audit it) if `email` or `address` is locked out now."""
    lockout = _lockout(session, email, address[:64], now)
    if lockout is not None:
        actor = audit.Actor(None, email, address[:64])
        audit.record(session, actor, "auth.locked_out", detail={"scope": lockout.scope}, at=now)
        raise LockedOut(lockout.scope, lockout.until - now)


def needs_second_factor(user: User) -> bool:
    return user.totp_enabled_at is not None


def complete_sign_in(session: Session, user: User, address: str, now: dt.datetime) -> None:
    """Record a successful sign-in (not committed): it resets the lockout count."""
    address = address[:64]
    session.add(LoginAttempt(at=now, email=user.email, address=address, succeeded=True))
    user.last_login_at = now
    audit.record(session, audit.Actor(user.id, user.email, address), "auth.login", at=now)


def authenticate(
    session: Session, email: str, password: str, address: str, now: dt.datetime
) -> User:
    """The account for these credentials (not committed; the caller commits either way).

    Signed in at once unless it has a second factor (needs_second_factor): then the sign-in
    completes when second_factor.verify_code accepts a code. Raises LockedOut or BadCredentials.
    """
    user = check_password(session, email, password, address, now)
    if not needs_second_factor(user):
        complete_sign_in(session, user, address, now)
    return user
