"""Factories: rows in any state, built directly, without running intake or the pipeline.

A test says what the database holds and gets exactly that: leads with their submissions,
consent lines and triage; messages in any status with their delivery attempts; staff users,
timeline events and callbacks. No intake checks, triage rules, planning, outbox or broker run.

Every function takes a target first:
- a `Session`: the rows are added and flushed, not committed; the caller's transaction
  decides (usually `with db.transaction() as session:`);
- a `Database`: the rows are written in their own transaction, committed, and returned
  detached with their columns loaded (relationships are not: read them in a session).

Every keyword argument sets the column of that name. A lead or message is passed as the row
or its id. Times are timezone-aware UTC, as the columns require.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from intake_service.db import Database, utcnow
from intake_service.domain.compliance import consent
from intake_service.domain.leads.status import STOPS_FOLLOW_UP
from intake_service.domain.outreach.sequences import plan_key_for
from intake_service.domain.triage import RULES_VERSION
from intake_service.models import (
    CallbackRequest,
    ConsentEvent,
    DeliveryAttempt,
    Lead,
    LeadEvent,
    Message,
    MessageStatus,
    Submission,
    Triage,
    User,
)
from intake_service.security.passwords import hash_password

Target = Database | Session
LeadRef = Lead | uuid.UUID

STAFF_PASSWORD = "correct horse battery staple"
TEAM_EMAIL = "team@sunrise.example"
IP = "203.0.113.7"
USER_AGENT = "Mozilla/5.0 (test)"
TMS_ALL_YES = {
    "struggles_with_depression_ocd_anxiety": True,
    "has_symptoms": True,
    "tried_antidepressants": True,
    "tried_talk_therapy": True,
    "doctor_suggested_tms": True,
}
_counter = itertools.count(1)
_password_hash: str | None = None


@contextmanager
def _writing(target: Target) -> Iterator[Session]:
    if isinstance(target, Session):
        yield target
        target.flush()
    else:
        with target.transaction() as session:
            yield session


def _lead_id(lead: LeadRef) -> uuid.UUID:
    return lead.id if isinstance(lead, Lead) else lead


def _hash() -> str:
    # Argon2 is slow on purpose; tests share one hash of the standard password.
    global _password_hash
    if _password_hash is None:
        _password_hash = hash_password(STAFF_PASSWORD)
    return _password_hash


# --- staff ---------------------------------------------------------------------------------


def user(target: Target, role: str = "coordinator", **fields: Any) -> User:
    """An active staff account with STAFF_PASSWORD (or `password=`)."""
    n = next(_counter)
    values: dict[str, Any] = {
        "email": f"{role}{n}@clinic.example",
        "role": role,
        "display_name": f"{role.capitalize()} {n}",
        "active": True,
    }
    password = fields.pop("password", None)
    values.update(fields)
    row = User(password_hash=hash_password(password) if password else _hash(), **values)
    with _writing(target) as session:
        session.add(row)
    return row


# --- leads and what they submitted ---------------------------------------------------------


def lead(
    target: Target,
    *,
    age: dt.timedelta = dt.timedelta(minutes=5),
    form: str = "contact",
    message: str | None = "I would like to know more.",
    answers: dict[str, Any] | None = None,
    submissions: int = 1,
    triage: dict[str, Any] | None = None,
    sms_consent: bool = False,
    email_consent: bool = True,
    **fields: Any,
) -> Lead:
    """A lead that arrived `age` ago with `submissions` form posts and its consent lines.

    Names and contact points are unique per call (Pat1 Example, pat1@patients.example, a
    +1213555 number). Consent lines are written for the contact points it has: email unless
    email_consent=False, SMS when sms_consent. With `triage` (a dict of Triage columns, {}
    for the defaults of `triage()`) it is triaged, and its priority follows. A status that
    stops the follow-up (contacted, booked, closed, spam) stops the sequence, as
    `leads.set_status` does, unless sequence_stopped_at is given.
    """
    n = next(_counter)
    created = fields.pop("created_at", None) or utcnow() - age
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "first_name": f"Pat{n}",
        "last_name": "Example",
        "email": f"pat{n}@patients.example",
        "phone": f"+1213555{n % 10000:04d}",
        "treatment_interest": "tms",
        "status": "new",
        "created_at": created,
        "updated_at": created,
    }
    values.update(fields)
    if values["status"] in STOPS_FOLLOW_UP and "sequence_stopped_at" not in fields:
        values["sequence_stopped_at"] = values["updated_at"]
        values.setdefault("sequence_stop_reason", values["status"])
    row = Lead(**values)
    with _writing(target) as session:
        session.add(row)
        session.flush()  # the lead row must exist before rows that point at it
        posts = [
            submission(
                session,
                row,
                created_at=created + dt.timedelta(days=i),
                form=form,
                answers=answers,
                message=message,
            )
            for i in range(submissions)
        ]
        if email_consent and row.email:
            consent_event(session, row, "email", at=created)
        if sms_consent and row.phone:
            consent_event(session, row, "sms", at=created)
        if triage is not None and posts:
            _triage(session, row, submission_id=posts[0].id, created_at=created, **triage)
    return row


def submission(target: Target, lead: LeadRef, **fields: Any) -> Submission:
    """One form post of the lead (a contact form without answers unless told)."""
    created_at = lead.created_at if isinstance(lead, Lead) else utcnow()
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "lead_id": _lead_id(lead),
        "created_at": created_at,
        "form": "contact",
        "via": "web",
        "answers": None,
        "message": None,
        "fingerprint": uuid.uuid4().hex,
        "ip": IP,
        "user_agent": USER_AGENT,
    }
    values.update(fields)
    row = Submission(**values)
    with _writing(target) as session:
        session.add(row)
    return row


def consent_event(
    target: Target,
    lead: LeadRef,
    channel: str = "sms",
    action: str = "opt_in",
    at: dt.datetime | None = None,
    **fields: Any,
) -> ConsentEvent:
    """A line of the consent ledger: an opt-in with today's wording, or an opt-out by keyword."""
    if action == "opt_in":
        version = fields.get(
            "wording_version",
            consent.CURRENT_SMS_WORDING if channel == "sms" else consent.CURRENT_EMAIL_WORDING,
        )
        defaults: dict[str, Any] = {
            "wording_version": version,
            "wording": consent.wording(channel, version),
            "source": "web_form",
            "ip": IP,
            "user_agent": USER_AGENT,
        }
    else:
        source = fields.get("source", "sms_keyword")
        # The words consent.record_opt_out writes for the same source.
        asked = "The person asked not to be contacted."
        defaults = {
            "wording_version": f"opt-out-{source}",
            "wording": consent.OPT_OUT_WORDINGS.get(source, asked),
            "source": source,
        }
    values = {
        "lead_id": _lead_id(lead),
        "channel": channel,
        "action": action,
        "occurred_at": at or utcnow(),
        **defaults,
    }
    values.update(fields)
    row = ConsentEvent(**values)
    with _writing(target) as session:
        session.add(row)
    return row


def triage(
    target: Target, lead: LeadRef, submission_id: uuid.UUID | None = None, **fields: Any
) -> Triage:
    """The lead's triage: normal priority, no score, unless told.

    It belongs to `submission_id`, else to the lead's latest submission, else to a new one.
    The lead's priority follows the triage's, as processing sets it (on the row in the
    database, and on `lead` if a row was passed).
    """
    lead_id = _lead_id(lead)
    values: dict[str, Any] = {
        "lead_id": lead_id,
        "created_at": utcnow(),
        "rules_version": RULES_VERSION,
        "score": None,
        "priority": "normal",
        "candidacy": None,
        "reasons": [],
    }
    values.update(fields)
    with _writing(target) as session:
        if submission_id is None:
            submission_id = session.scalar(
                sa.select(Submission.id)
                .where(Submission.lead_id == lead_id)
                .order_by(Submission.created_at.desc())
                .limit(1)
            )
        if submission_id is None:
            submission_id = submission(session, lead_id).id
        row = Triage(submission_id=submission_id, **values)
        session.add(row)
        session.get_one(Lead, lead_id).priority = row.priority
    if isinstance(lead, Lead):
        lead.priority = row.priority
    return row


# lead() takes a `triage` argument, which hides the function of that name inside it.
_triage = triage


# --- messages and their attempts -----------------------------------------------------------

S = MessageStatus
# How many claims a message in each status has had, unless told: a cancelled step was never
# claimed (the sequence stopped first); a suppressed one was, and was stopped at send time.
DEFAULT_ATTEMPTS = {
    S.PLANNED: 0,
    S.QUEUED: 0,
    S.SENDING: 1,
    S.SENT: 1,
    S.DELIVERED: 1,
    S.FAILED: 1,
    S.UNDELIVERED: 1,
    S.SUPPRESSED: 1,
    S.CANCELLED: 0,
}
RENDERED = (S.SENDING, S.SENT, S.DELIVERED, S.FAILED, S.UNDELIVERED)
AT_THE_PROVIDER = (S.SENT, S.DELIVERED, S.UNDELIVERED)
FAILURE_REASONS = {"email": "recipient_rejected", "sms": "invalid_number"}
BODIES = {
    "email": "Thank you for reaching out to the clinic.",
    "sms": "Thanks for contacting the clinic.",
}


def _recipient(session: Session, lead_id: uuid.UUID, audience: str, channel: str) -> str:
    if audience == "team":
        return TEAM_EMAIL
    row = session.get_one(Lead, lead_id)
    address = row.phone if channel == "sms" else row.email
    if address is None:
        raise ValueError(f"lead {lead_id} has no {channel} contact point: give a recipient")
    return address


def _state(status: MessageStatus, channel: str, due_at: dt.datetime) -> dict[str, Any]:
    """The columns a message in `status` has when it got there the ordinary way."""
    sent_at = due_at + dt.timedelta(seconds=2)
    values: dict[str, Any] = {"attempts": DEFAULT_ATTEMPTS[status]}
    if status != S.PLANNED:
        values["queued_at"] = due_at
    if status in RENDERED:
        values["sending_started_at"] = due_at
        values["body_text"] = BODIES[channel]
        if channel == "email":
            values["subject"] = "Thanks for contacting the clinic"
    if status in AT_THE_PROVIDER:
        values["sent_at"] = sent_at
        if channel == "sms":
            values["provider_id"] = "SM" + secrets.token_hex(16)
    if status == S.DELIVERED:
        values["delivered_at"] = sent_at + dt.timedelta(seconds=5)
    if status == S.UNDELIVERED:
        values["last_error"] = "twilio_30003"
    if status == S.FAILED:
        values["failed_at"] = sent_at
        values["last_error"] = FAILURE_REASONS[channel]
    if status == S.SUPPRESSED:
        values["last_error"] = "no_consent"
    if status == S.CANCELLED:
        values["last_error"] = "sequence stopped: contacted"
    return values


def message(
    target: Target,
    lead: LeadRef,
    status: str = "sent",
    *,
    history: bool = True,
    **fields: Any,
) -> Message:
    """A message in `status`, with the columns that status implies and its attempt rows.

    Defaults: the patient's first-contact text, due now, to the lead's phone (an email to
    its email, a team message to TEAM_EMAIL); a ValueError if the lead lacks that contact
    point and no recipient is given. A message past the provider has a provider id and a sent
    time, a failed one a reason and a failed time, a rendered one a body; any column can be
    given, e.g. message(s, lead, "failed", last_error="21211 invalid To"). `history` writes
    one DeliveryAttempt per claim (see `attempt_history`). plan_key is unique per call: pass
    plan_key=sequences.plan_key_for(...) to stand for what planning would add.
    """
    state = MessageStatus(status)
    lead_id = _lead_id(lead)
    audience = fields.get("audience", "patient")
    channel = fields.get("channel", "sms")
    due_at = fields.get("due_at", utcnow())
    with _writing(target) as session:
        recipient = fields.get("recipient") or _recipient(session, lead_id, audience, channel)
        step_key = fields.get("step_key", "first")
        planned_as = plan_key_for(step_key, audience, channel, recipient)
        values: dict[str, Any] = {
            "lead_id": lead_id,
            "plan_key": f"{planned_as}:{next(_counter)}",
            "step_key": step_key,
            "audience": audience,
            "channel": channel,
            "template_key": "team_new_lead" if audience == "team" else "patient_first_reply",
            "recipient": recipient,
            "status": state,
            "due_at": due_at,
            "created_at": min(due_at, utcnow()),
            "retry_base": 0,
            "needs_reconcile": False,
            **_state(state, channel, due_at),
        }
        values.update(fields)
        values.setdefault("updated_at", values["created_at"])
        row = Message(**values)
        session.add(row)
        session.flush()
        if state in AT_THE_PROVIDER and row.provider_id is None:
            # What the SMTP channel records: our own Message-ID header.
            row.provider_id = f"<intake-message-{row.id}@sunrise.example>"
        if history:
            session.add_all(attempt_history(row))
    return row


def attempt_history(row: Message) -> list[DeliveryAttempt]:
    """One finished attempt per earlier claim, and the last one as the status implies.

    Earlier claims failed transiently; the last is open while `sending`, `abandoned` when the
    message waits for reconciliation, `sent` once at the provider, `permanent` for a failure
    on the first try (`transient` after several), and `suppressed` or `cancelled` likewise.
    """
    last_outcome = {
        S.SENDING: None,
        S.SENT: "sent",
        S.DELIVERED: "sent",
        S.UNDELIVERED: "sent",
        S.FAILED: "permanent" if row.attempts == 1 else "transient",
        S.SUPPRESSED: "suppressed",
        S.CANCELLED: "cancelled",
        S.PLANNED: "transient",
        S.QUEUED: "abandoned" if row.needs_reconcile else "transient",
    }[MessageStatus(row.status)]
    last_start = row.sending_started_at or row.due_at
    attempts = []
    for number in range(1, row.attempts + 1):
        started = last_start - dt.timedelta(minutes=row.attempts - number)
        outcome = last_outcome if number == row.attempts else "transient"
        detail = {
            None: None,
            "sent": None,
            "transient": row.last_error or "timeout",
            "abandoned": "worker lost mid-send",
        }.get(outcome, row.last_error)
        attempts.append(
            DeliveryAttempt(
                message_id=row.id,
                number=number,
                started_at=started,
                finished_at=None if outcome is None else started + dt.timedelta(seconds=1),
                outcome=outcome,
                detail=detail,
                provider_id=row.provider_id if outcome == "sent" else None,
            )
        )
    return attempts


def delivery_attempt(target: Target, message: Message | int, **fields: Any) -> DeliveryAttempt:
    """One more attempt row for the message: numbered after the last, started now, still open."""
    message_id = message.id if isinstance(message, Message) else message
    with _writing(target) as session:
        last = session.scalar(
            sa.select(sa.func.max(DeliveryAttempt.number)).where(
                DeliveryAttempt.message_id == message_id
            )
        )
        values = {"message_id": message_id, "number": (last or 0) + 1, "started_at": utcnow()}
        values.update(fields)
        row = DeliveryAttempt(**values)
        session.add(row)
    return row


# --- the lead's timeline -------------------------------------------------------------------


def lead_event(
    target: Target,
    lead: LeadRef,
    kind: str,
    at: dt.datetime,
    actor: User | None = None,
    note: str | None = None,
    **data: Any,
) -> LeadEvent:
    """A timeline event without its audit line, e.g. a call logged an hour ago."""
    row = LeadEvent(
        lead_id=_lead_id(lead),
        kind=kind,
        at=at,
        actor_id=actor.id if actor else None,
        data=data,
        note=note,
    )
    with _writing(target) as session:
        session.add(row)
    return row


def callback(
    target: Target,
    lead: LeadRef,
    due_at: dt.datetime | None,
    origin: str = "staff",
    **fields: Any,
) -> CallbackRequest:
    """A callback the lead asked for (or staff promised), due at `due_at`."""
    row = CallbackRequest(lead_id=_lead_id(lead), due_at=due_at, origin=origin, **fields)
    with _writing(target) as session:
        session.add(row)
    return row
