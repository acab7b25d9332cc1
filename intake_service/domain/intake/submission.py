"""Accept a submission: lead, submission, consent evidence and outbox event in one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake_service.db import Database, utcnow
from intake_service.domain import triage
from intake_service.domain.compliance import consent
from intake_service.domain.events import outbox
from intake_service.domain.intake import duplicates, spam
from intake_service.domain.intake.answers import AnswerError, check_answers
from intake_service.domain.intake.rules import MAX_MESSAGE_CHARS, MAX_NAME_CHARS
from intake_service.models import Lead, OutboxEvent, Submission
from intake_service.models.lead import CALLBACK_WINDOWS, FORMS, TREATMENTS

log = logging.getLogger(__name__)

THANK_YOU = (
    "Thank you. We have your request, and a member of our care team will contact you soon. "
    "If you are thinking about harming yourself, call or text 988 (Suicide & Crisis Lifeline) "
    "at any time, or call 911 if you are in immediate danger."
)
CRISIS_MESSAGE = (
    "If you are in immediate danger, call 911 now. You can call or text 988 (Suicide & Crisis "
    "Lifeline) at any time, day or night, or chat at 988lifeline.org; for Spanish, call 988 and "
    "press 2. Thank you for telling us: a clinician from our team will call you as soon as "
    "possible."
)


@dataclass(frozen=True)
class Contact:
    first_name: str
    last_name: str = ""
    email: str | None = None  # normalised (see domain.contact)
    phone: str | None = None  # E.164
    callback_window: str = "any"


@dataclass(frozen=True)
class SubmissionInput:
    """One form post or API call, already shaped and normalised by the web tier."""

    form: str
    contact: Contact
    treatment_interest: str = "unsure"
    message: str | None = None
    answers: dict[str, Any] | None = None
    sms_consent: bool = False
    email_consent: bool = True
    sms_wording_version: str = consent.CURRENT_SMS_WORDING
    source: dict[str, str] = field(default_factory=dict)
    via: str = "web"  # "web" | "api"
    idempotency_key: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    # What the web form said about its sender (domain.intake.spam.form_signals): "honeypot" ...
    bot_signals: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """A hash of what was asked, so a replayed key can be told from a reused one."""
        content = asdict(self)
        for transport_detail in ("idempotency_key", "ip", "user_agent", "via", "bot_signals"):
            content.pop(transport_detail)
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Accepted:
    lead_id: uuid.UUID
    submission_id: uuid.UUID
    urgent: bool
    message: str
    replayed: bool = False  # True when an Idempotency-Key repeated an earlier submission


class InvalidSubmission(ValueError):
    """The input breaks a rule; `errors` maps field paths (contact.phone) to sentences."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class IdempotencyConflict(Exception):
    """An Idempotency-Key was reused for a different submission."""


def check(data: SubmissionInput) -> None:
    """The rules every submission meets, whatever door it came by; raises InvalidSubmission."""
    errors: dict[str, str] = {}
    contact = data.contact
    if data.form not in FORMS:
        errors["form"] = f"Unknown form; use one of: {', '.join(FORMS)}."
    if not contact.first_name.strip():
        errors["contact.first_name"] = "Enter your first name."
    for name in ("first_name", "last_name"):
        if len(getattr(contact, name)) > MAX_NAME_CHARS:
            errors[f"contact.{name}"] = f"Use at most {MAX_NAME_CHARS} characters."
    if not contact.email and not contact.phone:
        errors["contact.email"] = "Give an email address or a phone number so we can reach you."
    if contact.callback_window not in CALLBACK_WINDOWS:
        errors["contact.callback_window"] = f"Choose one of: {', '.join(CALLBACK_WINDOWS)}."
    if data.treatment_interest not in TREATMENTS:
        errors["treatment_interest"] = f"Choose one of: {', '.join(TREATMENTS)}."
    for path, value in _texts(data):
        if path not in errors and _CONTROL.search(value):
            errors[path] = "Remove the invisible control characters from this field."
    if data.message is not None and len(data.message) > MAX_MESSAGE_CHARS:
        errors["message"] = f"Use at most {MAX_MESSAGE_CHARS} characters."
    if data.sms_consent and not contact.phone:
        errors["contact.phone"] = "Give a phone number to receive texts, or untick the text box."
    if data.sms_consent:
        try:
            consent.wording("sms", data.sms_wording_version)
        except consent.UnknownWording as error:
            errors["consent.wording_version"] = str(error)
    if data.form in FORMS:
        try:
            check_answers(data.form, data.answers)
        except AnswerError as error:
            errors[error.path] = str(error)
    if errors:
        raise InvalidSubmission(errors)


# C0 controls (NUL breaks PostgreSQL text) but tab and line breaks, which a message may hold.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _texts(data: SubmissionInput) -> list[tuple[str, str]]:
    """What the person typed; a stray control character there is theirs to remove."""
    contact = data.contact
    return [
        ("contact.first_name", contact.first_name),
        ("contact.last_name", contact.last_name),
        ("message", data.message or ""),
    ]


def _clean(value: str | None) -> str | None:
    """Drop control characters from what the browser sent on its own (headers, query strings)."""
    return _CONTROL.sub("", value) if value is not None else None


def accept(
    session: Session, data: SubmissionInput, now: dt.datetime
) -> tuple[Accepted, int | None]:
    """Add the lead, submission, consent and outbox event to `session` (not committed).

    Returns the answer and the id of the outbox event to publish after commit (None on a replay).
    Raises InvalidSubmission, or IdempotencyConflict for a key reused with other content.
    """
    check(data)
    fingerprint = data.fingerprint()
    if data.idempotency_key:
        earlier = replay(session, data.idempotency_key, fingerprint)
        if earlier is not None:
            return earlier, None

    contact = data.contact
    urgent = triage.assess(data.form, data.answers, data.message).urgent
    reasons = spam.reasons_for(session, data, spam.limits_of(session))
    # A person asking again joins their lead; a bot's post never joins a person's.
    lead = None if reasons and not urgent else _returning(session, data, now, urgent)
    if lead is None:
        lead = _new_lead(data, now, urgent)
        _mark_spam(lead, reasons, urgent)
    submission = Submission(
        id=uuid.uuid4(),
        lead_id=lead.id,
        created_at=now,
        form=data.form,
        via=data.via,
        answers=data.answers,
        message=data.message or None,
        idempotency_key=data.idempotency_key,
        fingerprint=fingerprint,
        ip=data.ip,
        user_agent=_clean(data.user_agent),
    )
    session.add_all([lead, submission])
    session.flush()  # the lead row must exist before rows that point at it
    evidence = consent.ConsentEvidence(
        source="api" if data.via == "api" else "web_form",
        ip=data.ip,
        user_agent=_clean(data.user_agent),
        occurred_at=now,
    )
    if data.sms_consent:
        consent.record_opt_in(session, lead.id, "sms", data.sms_wording_version, evidence)
    if data.email_consent and contact.email:
        consent.record_opt_in(session, lead.id, "email", consent.CURRENT_EMAIL_WORDING, evidence)
    event = OutboxEvent(kind=outbox.LEAD_SUBMITTED, lead_id=lead.id, created_at=now)
    session.add(event)
    session.flush()
    return _answer(lead, submission), event.id


def _new_lead(data: SubmissionInput, now: dt.datetime, urgent: bool) -> Lead:
    contact = data.contact
    return Lead(
        id=uuid.uuid4(),
        created_at=now,
        first_name=contact.first_name.strip(),
        last_name=contact.last_name.strip(),
        email=contact.email,
        email_key=duplicates.email_key(contact.email),
        phone=contact.phone,
        callback_window=contact.callback_window,
        treatment_interest=data.treatment_interest,
        source={_clean(k): _clean(v) for k, v in data.source.items()},
        # Known at once (crisis language in the message, or PHQ-9 item 9 above 0), so the
        # answer to this very request shows crisis resources and the lead tops the list.
        urgent=urgent,
        priority="urgent" if urgent else None,
    )


def _returning(
    session: Session, data: SubmissionInput, now: dt.datetime, urgent: bool
) -> Lead | None:
    """The recent lead this person's submission joins (reopened if closed), or None."""
    window = spam.limits_of(session).duplicate_window_days
    lead = duplicates.find_returning(session, data.contact.phone, data.contact.email, now, window)
    if lead is not None:
        duplicates.rejoin(lead, urgent)
        log.info("returning lead %s: submission joins it", lead.id)
    return lead


def _mark_spam(lead: Lead, reasons: list[str], urgent: bool) -> None:
    """Store a bot's submission as spam, with its reasons: kept, but sent nothing.

    Crisis language is never filed as spam, whatever else it carries: a false alarm costs a
    call, a miss can cost a life. Its reasons are still kept for the person who calls.
    """
    if reasons:
        lead.spam_reasons = reasons
        if not urgent:
            lead.status = spam.SPAM
            log.info("lead %s stored as spam (%s)", lead.id, ", ".join(reasons))


def replay(session: Session, key: str, fingerprint: str) -> Accepted | None:
    """The answer given for an earlier use of `key`; raises IdempotencyConflict on other content."""
    submission = session.scalars(
        select(Submission).where(Submission.idempotency_key == key)
    ).first()
    if submission is None:
        return None
    if submission.fingerprint != fingerprint:
        raise IdempotencyConflict(key)
    answer = _answer(submission.lead, submission)
    return Accepted(answer.lead_id, answer.submission_id, answer.urgent, answer.message, True)


def submit(db: Database, data: SubmissionInput) -> Accepted:
    """Store a submission in one transaction, then publish its outbox event. Commits.

    Raises InvalidSubmission, IdempotencyConflict, or SQLAlchemy's OperationalError when the
    database cannot be reached (nothing is stored then).
    """
    try:
        with db.transaction() as session:
            answer, event_id = accept(session, data, utcnow())
    except IntegrityError:
        # Two requests raced with the same key: the other one won; answer as it did.
        if not data.idempotency_key:
            raise
        with db.session() as session:
            earlier = replay(session, data.idempotency_key, data.fingerprint())
        if earlier is None:
            raise
        return earlier
    if event_id is not None:
        outbox.publish(db, [event_id])
        log.info("accepted submission %s for lead %s", answer.submission_id, answer.lead_id)
    return answer


def _answer(lead: Lead, submission: Submission) -> Accepted:
    message = CRISIS_MESSAGE if lead.urgent else THANK_YOU
    return Accepted(
        lead_id=lead.id, submission_id=submission.id, urgent=lead.urgent, message=message
    )
