"""Accept a submission: lead, submission, consent evidence and outbox event in one transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake_service import logs, metrics
from intake_service.config.abuse import AbuseSettings
from intake_service.db import Database, utcnow
from intake_service.domain import triage
from intake_service.domain.compliance import consent
from intake_service.domain.events import outbox
from intake_service.domain.intake import contact_limit, duplicates, rules, spam
from intake_service.domain.intake.answers import AnswerError, check_answers
from intake_service.domain.intake.rules import (
    CALLBACK_WINDOW_LABELS,
    CRISIS_MESSAGE,
    FORM_LABELS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    THANK_YOU,
    TREATMENT_LABELS,
)
from intake_service.models import ConsentEvent, Lead, OutboxEvent, Submission
from intake_service.models.lead_index import contact_hashes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contact:
    first_name: str
    last_name: str = ""
    email: str | None = None  # normalised (see domain.contact)
    phone: str | None = None  # E.164
    callback_window: str = "any"


_TRANSPORT = frozenset(("idempotency_key", "ip", "user_agent", "via", "locale", "bot_signals"))


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
    # The door's own key (the form's token, the API's Idempotency-Key); see stored_key.
    idempotency_key: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    locale: str = rules.DEFAULT_LOCALE  # the language of the page the person used
    # What the web form said about its sender (domain.intake.spam.form_signals): "honeypot" ...
    bot_signals: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """A hash of what was asked, so a replayed key can be told from a reused one."""
        # The page's language and the bot signals are how it was asked, not what: the same
        # words resent from the Spanish page are the same submission. What asdict() gave, and
        # so the stored fingerprints, without its deep copy of every field.
        content = {k: v for k, v in vars(self).items() if k not in _TRANSPORT}
        content["contact"] = vars(self.contact)
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Accepted:
    lead_id: uuid.UUID
    submission_id: uuid.UUID
    urgent: bool
    message: str
    replayed: bool = False  # True when an Idempotency-Key repeated an earlier submission
    # What became of it, for the metrics: accepted (a new lead), duplicate (joined a returning
    # lead), spam (stored, sent nothing) or replayed.
    outcome: str = "accepted"


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
    if data.form not in FORM_LABELS:
        errors["form"] = f"Unknown form; use one of: {', '.join(FORM_LABELS)}."
    if not contact.first_name.strip():
        errors["contact.first_name"] = "Enter your first name."
    for name in ("first_name", "last_name"):
        value: str = getattr(contact, name)
        problem = (
            f"Use at most {MAX_NAME_CHARS} characters."
            if len(value) > MAX_NAME_CHARS
            else rules.name_problem(value.strip())
        )
        if problem:
            errors.setdefault(f"contact.{name}", problem)
    if not contact.email and not contact.phone:
        errors["contact.email"] = "Give an email address or a phone number so we can reach you."
    if contact.callback_window not in CALLBACK_WINDOW_LABELS:
        errors["contact.callback_window"] = f"Choose one of: {', '.join(CALLBACK_WINDOW_LABELS)}."
    if data.treatment_interest not in TREATMENT_LABELS:
        errors["treatment_interest"] = f"Choose one of: {', '.join(TREATMENT_LABELS)}."
    if data.message is not None and len(data.message) > MAX_MESSAGE_CHARS:
        errors["message"] = f"Use at most {MAX_MESSAGE_CHARS} characters."
    elif data.message and rules.NOT_TEXT.search(data.message):
        errors["message"] = rules.CONTROL_CHARACTERS
    if data.locale not in rules.LOCALES:
        errors["locale"] = f"Unknown language; use one of: {', '.join(rules.LOCALES)}."
    source_problem = rules.source_problem(data.source)
    if source_problem:
        errors["source"] = source_problem
    if data.sms_consent and not contact.phone:
        errors["contact.phone"] = "Give a phone number to receive texts, or untick the text box."
    if data.sms_consent and data.sms_wording_version not in consent.SMS_WORDINGS:
        # Never the client's own text back: the version is theirs, the sentence is ours.
        errors["consent.wording_version"] = (
            f"Unknown consent wording version; use one of: {', '.join(consent.SMS_WORDINGS)}."
        )
    if data.form in FORM_LABELS:
        try:
            check_answers(data.form, data.answers)
        except AnswerError as error:
            errors[error.path] = str(error)
    if errors:
        raise InvalidSubmission(errors)


WEB_FORM_KEYS = "web-form:"


def stored_key(via: str, key: str) -> str:
    """The idempotency key as stored: each door has a key space of its own.

    Without it, an API client could claim "web-form:<token>" and turn that form's post into a
    conflict. The web forms' keys are tokens this service made (UUIDs, stored as before);
    every other door's are the client's own, stored as "<door>:<sha256>": a client's key may
    be 200 characters (the column's width, before any prefix) and may hold anything, an order
    number or an email.
    """
    if via == "web":
        return WEB_FORM_KEYS + key
    return f"{via}:{hashlib.sha256(key.encode()).hexdigest()}"


# Core statements built once, not the ORM's unit of work: these rows are written only here, and
# the flushes were a third of the request's CPU (docs/performance.md).
_INSERT_LEAD = insert(Lead)
_INSERT_SUBMISSION = insert(Submission)
_INSERT_CONSENT = insert(ConsentEvent)
_INSERT_EVENT = insert(OutboxEvent).returning(OutboxEvent.id)


def accept(
    session: Session, data: SubmissionInput, now: dt.datetime, *, publishing: bool = False
) -> tuple[Accepted, int | None]:
    """Add the lead, submission, consent and outbox event to `session` (not committed).

    Returns the answer and the id of the outbox event (None on a replay), which the caller is
    to publish after commit when `publishing` (outbox.new_event records it as published).
    Raises InvalidSubmission, IdempotencyConflict for a key reused with other content, or
    SubmissionLimited when this phone or email sent too many forms in the last hour.
    """
    check(data)
    fingerprint = data.fingerprint()
    key = stored_key(data.via, data.idempotency_key) if data.idempotency_key else None
    if key:
        earlier = replay(session, key, fingerprint)
        if earlier is not None:
            return earlier, None

    contact = data.contact
    limits = spam.limits_of(session)
    urgent = triage.assess(data.form, data.answers, data.message).urgent
    known = _look_up(session, data, now, limits)
    if not urgent:
        contact_limit.verdict(
            known.recent, known.oldest, now, limits.submissions_per_contact_per_hour
        )
    # Evidence must be a real address (a forwarded header can hold anything) and fit its column.
    ip = rules.client_ip(data.ip)
    agent = rules.user_agent(data.user_agent)
    reasons = spam.reasons_for(data, limits, known.blocked)
    # A person asking again joins their lead; a bot's post never joins a person's.
    lead = None if reasons and not urgent else _returning(session, known.returning_id, urgent)
    connection = session.connection()
    if lead is not None:
        lead_id, lead_urgent = lead.id, lead.urgent
        addresses = {"sms": lead.phone, "email": lead.email}
        outcome = "duplicate"
    else:
        row = _new_lead(data, now, urgent, reasons)
        row.update(contact_hashes(connection.dialect, contact.phone, contact.email))
        connection.execute(_INSERT_LEAD, row)
        lead_id, lead_urgent = row["id"], urgent
        addresses = {"sms": contact.phone, "email": contact.email}
        outcome = "spam" if row["status"] == spam.SPAM else "accepted"
    submission_id = uuid.uuid4()
    connection.execute(
        _INSERT_SUBMISSION,
        {
            "id": submission_id,
            "lead_id": lead_id,
            "created_at": now,
            "form": data.form,
            "via": data.via,
            "answers": data.answers,
            "message": data.message or None,
            "idempotency_key": key,
            "fingerprint": fingerprint,
            "ip": ip,
            "user_agent": agent,
        },
    )
    evidence = consent.ConsentEvidence(
        source="api" if data.via == "api" else "web_form",
        ip=ip,
        user_agent=agent,
        occurred_at=now,
    )
    opt_ins = []
    if data.sms_consent:
        opt_ins.append(
            consent.opt_in_row(lead_id, "sms", addresses["sms"], data.sms_wording_version, evidence)
        )
    if data.email_consent and contact.email:
        # The words our page showed beside the Send button, in its language; another door
        # (the API, a form builder) shows words of its own, recorded as the default version.
        email_version = (
            consent.current_email_wording(data.locale)
            if data.via == "web"
            else consent.CURRENT_EMAIL_WORDING
        )
        opt_ins.append(
            consent.opt_in_row(lead_id, "email", addresses["email"], email_version, evidence)
        )
    if opt_ins:
        connection.execute(_INSERT_CONSENT, opt_ins)
    event = outbox.new_event(lead_id, now, publishing=publishing)
    event_id = connection.execute(_INSERT_EVENT, event).scalar_one()
    answer = _answer(lead_id, submission_id, lead_urgent)
    return dataclasses.replace(answer, outcome=outcome), event_id


@dataclass(frozen=True)
class _Known:
    """What the database already holds about this contact, read in one statement."""

    recent: int  # their submissions in the last hour (the per-contact cap)
    oldest: dt.datetime | None  # the oldest of those
    returning_id: uuid.UUID | None  # the recent lead they belong to
    blocked: list[str]  # the block list's reasons that match ("blocked_email"...)


# The per-contact cap's count, the returning lead and the block list, in one statement built
# once: each rule's own module says what it asks (contact_limit, duplicates, spam).
_LOOK_UP = contact_limit.RECENT.add_columns(
    duplicates.RETURNING.label("returning_lead"), *spam.BLOCKED_CHECKS
)


def _look_up(
    session: Session, data: SubmissionInput, now: dt.datetime, limits: AbuseSettings
) -> _Known:
    phone, email = data.contact.phone, data.contact.email
    params = {
        **contact_limit.recent_params(phone, email, now),
        **duplicates.returning_params(phone, email, now, limits.duplicate_window_days),
        **spam.blocked_params(data),
    }
    row = session.connection().execute(_LOOK_UP, params).one()._mapping
    return _Known(
        recent=row["recent"],
        oldest=row["oldest"],
        returning_id=row["returning_lead"],
        blocked=[check.name for check in spam.BLOCKED_CHECKS if row[check.name]],
    )


def _new_lead(
    data: SubmissionInput, now: dt.datetime, urgent: bool, reasons: list[str]
) -> dict[str, Any]:
    """The row of a new lead; a bot's is stored as spam, with its reasons: kept, sent nothing.

    Crisis language is never filed as spam, whatever else it carries: a false alarm costs a
    call, a miss can cost a life. Its reasons are still kept for the person who calls.
    """
    contact = data.contact
    lead_id = uuid.uuid4()
    spam_status = bool(reasons) and not urgent
    if spam_status:
        log.info("lead %s stored as spam (%s)", lead_id, ", ".join(reasons))
    return {
        "id": lead_id,
        "created_at": now,
        "updated_at": now,
        "first_name": contact.first_name.strip(),
        "last_name": contact.last_name.strip(),
        "email": contact.email,
        "email_key": duplicates.email_key(contact.email),
        "phone": contact.phone,
        "callback_window": contact.callback_window,
        "locale": data.locale,
        "treatment_interest": data.treatment_interest,
        "source": {
            rules.strip_controls(k): rules.strip_controls(v) for k, v in data.source.items()
        },
        "status": spam.SPAM if spam_status else "new",
        # Known at once (crisis language in the message, or PHQ-9 item 9 above 0), so the
        # answer to this very request shows crisis resources and the lead tops the list.
        "urgent": urgent,
        "priority": "urgent" if urgent else None,
        "spam_reasons": reasons or None,
    }


def _returning(session: Session, lead_id: uuid.UUID | None, urgent: bool) -> Lead | None:
    """The recent lead this person's submission joins (reopened if closed), or None."""
    lead = duplicates.lock(session, lead_id)
    if lead is not None:
        duplicates.rejoin(lead, urgent)
        log.info("returning lead %s: submission joins it", lead.id)
    return lead


def replay(session: Session, key: str, fingerprint: str) -> Accepted | None:
    """The answer given for an earlier use of the stored `key` (see stored_key).

    Raises IdempotencyConflict when the key was used for other content.
    """
    submission = session.scalars(
        select(Submission).where(Submission.idempotency_key == key)
    ).first()
    if submission is None:
        return None
    if submission.fingerprint != fingerprint:
        raise IdempotencyConflict(key)
    answer = _answer(submission.lead_id, submission.id, submission.lead.urgent)
    return dataclasses.replace(answer, replayed=True)


def submit(db: Database, data: SubmissionInput) -> Accepted:
    """Store a submission in one transaction, then publish its outbox event. Commits.

    Raises InvalidSubmission, IdempotencyConflict, or SQLAlchemy's OperationalError when the
    database cannot be reached (nothing is stored then).
    """
    # One pooled connection for the request: the submission's transaction commits on it, and a
    # publish the broker refused is recorded on it, with no second checkout of the pool.
    publishing = outbox.publishing_now()
    with db.engine.connect() as connection:
        try:
            with db.sessions(bind=connection) as session, session.begin():
                answer, event_id = accept(session, data, utcnow(), publishing=publishing)
        except IntegrityError:
            # Two requests raced with the same key: the other one won; answer as it did.
            if not data.idempotency_key:
                raise
            with db.sessions(bind=connection) as session:
                key = stored_key(data.via, data.idempotency_key)
                earlier = replay(session, key, data.fingerprint())
            if earlier is None:
                raise
            metrics.count_submission(data.form, "replayed")
            return earlier
        logs.bind_lead(answer.lead_id)  # the rest of this request's lines name the lead
        if event_id is not None:
            if publishing:
                # Committed above: the event is durable before the broker hears of it.
                outbox.publish_new(db, event_id, answer.lead_id, connection)
            log.info("accepted submission %s for lead %s", answer.submission_id, answer.lead_id)
    metrics.count_submission(data.form, "replayed" if answer.replayed else answer.outcome)
    return answer


def _answer(lead_id: uuid.UUID, submission_id: uuid.UUID, urgent: bool) -> Accepted:
    message = CRISIS_MESSAGE if urgent else THANK_YOU
    return Accepted(lead_id=lead_id, submission_id=submission_id, urgent=urgent, message=message)
