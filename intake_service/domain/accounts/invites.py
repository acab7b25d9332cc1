"""One-time links by email: an invitation to join, or a password reset an admin started.

The link carries a random token; only its SHA-256 is stored. A link works once, until it
expires, and only while it is the newest for that person and purpose.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain.accounts.users import AccountError, UnknownUser, normalise_email
from intake_service.domain.compliance import audit
from intake_service.domain.outreach.direct_send import Direct, send_now
from intake_service.models import AccountLink, User
from intake_service.models.user import ROLES
from intake_service.security.passwords import check_strength, hash_password

LIFETIME = {"invite": dt.timedelta(hours=72), "reset": dt.timedelta(hours=4)}
# Not an Argon2 hash, so no password matches it: a reset locks the old password out at once.
UNUSABLE_HASH = "!reset"
PATH = "/account/"


class LinkInvalid(ValueError):
    """The link is unknown, used, replaced or expired; one answer for all, so it reveals nothing."""


@dataclass(frozen=True)
class Issued:
    token: str
    email: str
    purpose: str
    expires_at: dt.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue(
    session: Session,
    purpose: str,
    email: str,
    now: dt.datetime,
    created_by: int | None,
    **fields: object,
) -> Issued:
    # An older link for the same person and purpose stops working: only the newest is valid.
    session.execute(
        update(AccountLink)
        .where(
            AccountLink.email == email,
            AccountLink.purpose == purpose,
            AccountLink.used_at.is_(None),
            AccountLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    expires = now + LIFETIME[purpose]
    session.add(
        AccountLink(
            token_hash=_digest(token),
            purpose=purpose,
            email=email,
            created_by_id=created_by,
            created_at=now,
            expires_at=expires,
            **fields,
        )
    )
    session.flush()
    return Issued(token, email, purpose, expires)


def invite(
    session: Session, email: str, role: str, name: str, actor: audit.Actor, now: dt.datetime
) -> Issued:
    """A one-time invitation link for a new account (not committed); raises AccountError."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    address = normalise_email(email)
    if session.scalars(select(User.id).where(User.email == address)).first() is not None:
        raise AccountError(f"an account for {address} already exists")
    issued = _issue(
        session, "invite", address, now, actor.id, role=role, display_name=name.strip()[:100]
    )
    audit.record(session, actor, "user.invited", detail={"role": role}, at=now)
    return issued


def start_reset(session: Session, user_id: int, actor: audit.Actor, now: dt.datetime) -> Issued:
    """Lock the account's password and sessions now and issue a link to choose a new one.

    Not committed. Raises UnknownUser, or AccountError for a disabled account.
    """
    user = session.get(User, user_id)
    if user is None:
        raise UnknownUser(str(user_id))
    if not user.active:
        raise AccountError(f"{user.email} is disabled; enable it before resetting its password")
    # Whoever knew the old password (perhaps the reason for the reset) is out at once.
    user.password_hash = UNUSABLE_HASH
    user.session_version += 1
    issued = _issue(session, "reset", user.email, now, actor.id, user_id=user.id)
    audit.record(session, actor, "user.password_reset", detail={"user_id": user.id}, at=now)
    return issued


def find(session: Session, token: str, now: dt.datetime, lock: bool = False) -> AccountLink:
    """The link for `token` if it can still be used; raises LinkInvalid."""
    if not token or len(token) > 100:
        raise LinkInvalid()
    query = select(AccountLink).where(AccountLink.token_hash == _digest(token))
    # Locked when it is about to be used, so two tabs posting the form cannot both use it.
    link = session.scalars(query.with_for_update() if lock else query).first()
    if link is None or link.used_at or link.revoked_at or link.expires_at <= now:
        raise LinkInvalid()
    return link


def complete(session: Session, token: str, password: str, now: dt.datetime) -> User:
    """Use the link: create the invited account, or set the new password (not committed).

    Raises LinkInvalid, passwords.WeakPassword, or AccountError (the address was taken since).
    """
    link = find(session, token, now, lock=True)
    check_strength(password)
    if link.purpose == "invite":
        if session.scalars(select(User.id).where(User.email == link.email)).first() is not None:
            raise AccountError(f"an account for {link.email} already exists; sign in instead")
        user = User(
            email=link.email,
            role=link.role or "coordinator",
            display_name=link.display_name,
            password_hash=hash_password(password),
        )
        session.add(user)
        session.flush()
        kind = "user.invite_accepted"
    else:
        found = session.get(User, link.user_id) if link.user_id else None
        if found is None or not found.active:
            raise LinkInvalid()
        user = found
        user.password_hash = hash_password(password)
        user.session_version += 1
        kind = "user.password_set"
    link.used_at = now
    link.user_id = user.id
    audit.record(
        session, audit.Actor(user.id, user.email), kind, detail={"user_id": user.id}, at=now
    )
    return user


def link_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url}{PATH}{token}"


def email(issued: Issued, url: str, clinic_name: str, role: str | None = None) -> Direct:
    """The email carrying the link: who it is from, what it does, when it stops working."""
    hours = int(LIFETIME[issued.purpose].total_seconds() // 3600)
    if issued.purpose == "invite":
        subject = f"You are invited to {clinic_name}'s intake app"
        opening = (
            f"You have been invited to {clinic_name}'s lead intake app as "
            f"{'an' if role == 'admin' else 'a'} {role}."
        )
        action = "Choose your password here"
    else:
        subject = f"Choose a new password for {clinic_name}'s intake app"
        opening = (
            f"An administrator at {clinic_name} reset your password for the lead intake app. "
            "Your old password no longer works."
        )
        action = "Choose a new password here"
    text = (
        f"{opening}\n\n{action} (the link works once, for {hours} hours):\n{url}\n\n"
        "If you did not expect this email, tell your clinic's administrator."
    )
    return Direct("email", issued.email, text, subject=subject)


def send_link(
    db: Database, settings: Settings, issued: Issued, clinic_name: str, role: str | None = None
) -> None:
    """Email the link through the real email channel; raises direct_send.DirectSendFailed.

    Call after the link's transaction committed: a link that failed to send can be sent again
    (a new one replaces it), while an email for a link that was rolled back would not work.
    """
    url = link_url(settings.public_base_url, issued.token)
    send_now(db, settings, email(issued, url, clinic_name, role))
