"""Leads with their submissions, consent lines and triage."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa

from intake_service.db import utcnow
from intake_service.domain.compliance import consent
from intake_service.domain.leads.status import STOPS_FOLLOW_UP
from intake_service.domain.triage import RULES_VERSION
from intake_service.models import ConsentEvent, Escalation, InboundMessage, Lead, Submission, Triage
from tests.support.factories.base import LeadRef, Target, counter, id_of, writing

IP = "203.0.113.7"
USER_AGENT = "Mozilla/5.0 (test)"
TMS_ALL_YES = {
    "struggles_with_depression_ocd_anxiety": True,
    "has_symptoms": True,
    "tried_antidepressants": True,
    "tried_talk_therapy": True,
    "doctor_suggested_tms": True,
}


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
    n = next(counter)
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
    with writing(target) as session:
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
        "lead_id": id_of(lead),
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
    with writing(target) as session:
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
        "lead_id": id_of(lead),
        "channel": channel,
        "action": action,
        "occurred_at": at or utcnow(),
        **defaults,
    }
    values.update(fields)
    row = ConsentEvent(**values)
    with writing(target) as session:
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
    lead_id = id_of(lead)
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
    with writing(target) as session:
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


def first_contact_due(target: Target, lead: LeadRef, due_at: dt.datetime) -> Escalation:
    """The lead's first-contact clock, as processing starts it: escalation round 1 due then."""
    lead_id = id_of(lead)
    row = Escalation(lead_id=lead_id, round=1, due_at=due_at, created_at=utcnow())
    with writing(target) as session:
        session.add(row)
    return row


def inbound(
    target: Target,
    lead: LeadRef,
    body: str = "Thanks, evenings are best",
    kind: str = "reply",
    at: dt.datetime | None = None,
    **fields: Any,
) -> InboundMessage:
    """A text the lead sent the clinic, stored as the inbound webhook stores it."""
    n = next(counter)
    values: dict[str, Any] = {
        "provider_id": f"SMfactory{n:024d}",
        "received_at": at or utcnow(),
        "from_number": f"+1213555{n % 10000:04d}",
        "to_number": "+13105550100",
        "body": body,
        "lead_id": id_of(lead),
        "kind": kind,
    }
    values.update(fields)
    row = InboundMessage(**values)
    with writing(target) as session:
        session.add(row)
    return row


# lead() takes a `triage` argument, which hides the function of that name inside it.
_triage = triage
