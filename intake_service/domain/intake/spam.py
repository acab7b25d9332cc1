"""Spam kept out before anything is sent, and nothing lost.

A submission that looks like a bot's is still stored, as a lead with status "spam" and the
reasons, so a person can take it back (`unspam`); processing plans nothing for it. The bot sees
the ordinary thank-you page: telling it which check caught it would teach it to pass.

Signals come from two places: the web form (a hidden honeypot field, a signed timestamp of when
the page was made) and the content (links, gibberish names, the admin's block list).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from intake_service.config.abuse import AbuseSettings
from intake_service.db import Database, utcnow
from intake_service.domain.compliance.audit import Actor
from intake_service.domain.events import outbox
from intake_service.models import BlockedValue, Lead, OutboxEvent
from intake_service.models.abuse import BLOCK_KINDS
from intake_service.sql_lists import one_of

# The block list's own kinds (an address, a domain...), not a channel's.
BLOCKED_EMAIL, BLOCKED_DOMAIN = "email", "domain"

if TYPE_CHECKING:
    from intake_service.domain.intake.submission import SubmissionInput

SPAM = "spam"
MAX_BLOCK_VALUE = 320  # blocked_values.value
_TIMESTAMP_SALT = "intake.form-started"
_LINK = re.compile(r"(https?://|www\.|\b[a-z0-9-]+\.(?:com|net|org|ru|xyz|top|info|biz)\b)", re.I)
# Six consonants in a row appear in no name in the languages the clinic serves ("Schwarz" has
# four); a token that changes case again and again ("aSdFgHjK") is keyboard noise.
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{6,}", re.I)
_CASE_FLIPS = re.compile(r"(?:[a-z][A-Z]){3,}")
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


def sign_started(secret_key: str, now: dt.datetime) -> str:
    """A signed note of when a form page was made, to send back with the post."""
    serializer = URLSafeSerializer(secret_key, salt=_TIMESTAMP_SALT)
    return serializer.dumps(int(now.timestamp()))


def form_signals(
    secret_key: str,
    honeypot: str | None,
    started: str | None,
    now: dt.datetime,
    limits: AbuseSettings,
) -> tuple[str, ...]:
    """What the posted form itself says about its sender: codes, () for a person.

    A post without a timestamp is an old cached page or a script: like a missing submission
    token, it is let through rather than turning a person away; a forged one is a bot.
    """
    signals: list[str] = []
    if honeypot and honeypot.strip():
        signals.append("honeypot")
    if started:
        try:
            made = URLSafeSerializer(secret_key, salt=_TIMESTAMP_SALT).loads(started)
        except BadSignature:
            signals.append("forged_timestamp")
        else:
            elapsed = now.timestamp() - float(made)
            if elapsed < limits.spam_min_fill_seconds:
                signals.append("too_fast")
            elif elapsed > limits.spam_form_max_age_seconds:
                # Not spam: a tab left open for days. The check just cannot vouch for it.
                pass
    return tuple(signals)


def content_reasons(data: SubmissionInput, limits: AbuseSettings, blocked: list[str]) -> list[str]:
    """Why the content looks like spam: link and gibberish heuristics, and `blocked`, the
    block list's reasons that BLOCKED_CHECKS found (intake reads them with its other lookups).
    """
    contact = data.contact
    reasons: list[str] = []
    names = (contact.first_name, contact.last_name)
    if any(_LINK.search(name) for name in names):
        reasons.append("link_in_name")
    if len(_LINK.findall(data.message or "")) > limits.spam_max_links:
        reasons.append("links")
    if any(_gibberish(token) for name in names for token in name.split()):
        reasons.append("gibberish_name")
    reasons.extend(sorted(blocked))
    return reasons


def reasons_for(data: SubmissionInput, limits: AbuseSettings, blocked: list[str]) -> list[str]:
    """Every reason to store this submission as spam; [] for one that looks like a person's."""
    return [*data.bot_signals, *content_reasons(data, limits, blocked)]


def limits_of(session: Session) -> AbuseSettings:
    """The abuse settings the session's app runs with (the defaults outside an app)."""
    settings = session.info.get("settings")
    return settings.abuse if settings is not None else AbuseSettings()


def _gibberish(token: str) -> bool:
    return bool(_CONSONANT_RUN.search(token) or _CASE_FLIPS.search(token))


# One column per kind of block-list entry, true when an entry of that kind matches what is
# bound for it ("blocked_email"..., named by the reason it gives; see blocked_params). Each is
# an equality on the indexed (kind, value) pair: the domain's suffixes and the phone's prefixes
# are listed in Python rather than matched in SQL. Built once; intake reads them with its
# other lookups.
BLOCKED_CHECKS = [
    exists()
    .where(
        BlockedValue.kind == kind,
        one_of(BlockedValue.value, f"blocked_{kind}"),
    )
    .correlate(None)
    .label(f"blocked_{kind}")
    for kind in BLOCK_KINDS
]


def blocked_params(data: SubmissionInput) -> dict[str, list[str]]:
    """The values BLOCKED_CHECKS look for in this submission, by parameter."""
    email = (data.contact.email or "").casefold()
    domain = email.rpartition("@")[2]
    phone = data.contact.phone or ""
    words = {
        w.casefold()
        for text in (data.contact.first_name, data.contact.last_name, data.message or "")
        for w in _WORD.findall(text)
    }
    # "mail.example.com" is blocked by an entry for itself, "example.com" or "com".
    labels = domain.split(".")
    return {
        "blocked_email": [email] if email else [],
        "blocked_domain": [".".join(labels[i:]) for i in range(len(labels))] if domain else [],
        "blocked_phone_prefix": [phone[:n] for n in range(2, len(phone) + 1)],
        "blocked_word": sorted(words),
    }


def block_value(kind: str, value: str) -> str:
    """The value as the block list stores it; raises ValueError for a bad kind or value."""
    if kind not in BLOCK_KINDS:
        raise ValueError(f"unknown block list kind {kind!r}; use one of {', '.join(BLOCK_KINDS)}")
    cleaned = value.strip().casefold()
    if kind == "phone_prefix" and not re.fullmatch(r"\+\d{1,14}", cleaned):
        raise ValueError("a blocked phone prefix starts with + and the country code, like +4470")
    if not cleaned:
        raise ValueError("a block list entry needs a value")
    if len(cleaned) > MAX_BLOCK_VALUE:
        raise ValueError(f"a block list entry has at most {MAX_BLOCK_VALUE} characters")
    # Each kind is matched whole against one thing (an address, a domain, a word of the
    # form), so a value that could never match is refused rather than kept doing nothing.
    if kind != "phone_prefix" and any(c.isspace() for c in cleaned):
        raise ValueError(f"a blocked {kind.replace('_', ' ')} has no spaces")
    if kind == BLOCKED_EMAIL and "@" not in cleaned:
        raise ValueError("a blocked email address has an @, like bot@example.com")
    if kind == BLOCKED_DOMAIN and "@" in cleaned:
        raise ValueError("a blocked domain is the part after the @, like example.com")
    return cleaned


def blocked(session: Session, kind: str, cleaned: str) -> BlockedValue | None:
    """The entry of this kind and (stored) value, if the block list has it."""
    return session.scalars(
        select(BlockedValue).where(BlockedValue.kind == kind, BlockedValue.value == cleaned)
    ).first()


def block(
    session: Session, kind: str, value: str, by: str | None = None, note: str | None = None
) -> BlockedValue:
    """Add an entry to the block list (not committed); raises ValueError for a bad kind/value.

    An entry already there is returned as it is.
    """
    cleaned = block_value(kind, value)
    existing = blocked(session, kind, cleaned)
    if existing is not None:
        return existing
    entry = BlockedValue(kind=kind, value=cleaned, note=note, created_by=by)
    session.add(entry)
    session.flush()
    return entry


def blocked_values(session: Session) -> list[BlockedValue]:
    """The block list, by kind then value (for the admin pages)."""
    return list(
        session.scalars(select(BlockedValue).order_by(BlockedValue.kind, BlockedValue.value))
    )


def unblock(session: Session, entry_id: int) -> bool:
    """Remove a block list entry (not committed); False if there was none."""
    entry = session.get(BlockedValue, entry_id)
    if entry is None:
        return False
    session.delete(entry)
    session.flush()
    return True


def resume(session: Session, lead: Lead, now: dt.datetime) -> int:
    """Let a lead taken out of spam hear from the clinic as a new lead would (not committed).

    A stop made by marking it spam is lifted (any other stop, such as "contacted", stays: a
    person took over then), and the lead is queued for processing again after commit: the
    worker plans first contact and the follow-up, plan keys adding only what is missing.
    Returns the id of the outbox event to publish.
    """
    if lead.sequence_stop_reason == SPAM:
        lead.sequence_stopped_at = None
        lead.sequence_stop_reason = None
    event = OutboxEvent(kind=outbox.LEAD_SUBMITTED, lead_id=lead.id, created_at=now)
    session.add(event)
    session.flush()
    return event.id


def unspam(db: Database, lead_id: uuid.UUID, by: Actor) -> str:
    """Take a lead out of spam and run its first contact and follow-up. Commits.

    Returns the status restored; raises UnknownLead, or ValueError if the lead is not spam.
    """
    # Imported here: leads.status calls `resume` above, and intake is imported before leads.
    from intake_service.domain.leads import status

    with db.transaction() as session:
        restored = status.unspam(session, lead_id, utcnow(), by)
        event_ids = list(
            session.scalars(
                select(OutboxEvent.id).where(
                    OutboxEvent.lead_id == lead_id, OutboxEvent.processed_at.is_(None)
                )
            )
        )
    outbox.publish(db, event_ids)
    return restored
