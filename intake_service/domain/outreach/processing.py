"""Process a submitted lead: triage it, plan its first messages, claim the due ones."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from intake_service import metrics
from intake_service.channels import CHANNEL_KINDS
from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain import triage
from intake_service.domain.clinic_settings import effective_clinic
from intake_service.domain.compliance import pumping
from intake_service.domain.compliance.consent import latest_action
from intake_service.domain.compliance.policy import Facts
from intake_service.domain.events import outbox
from intake_service.domain.leads import escalation, routing
from intake_service.domain.outreach import scheduler, sequences, urgent
from intake_service.models import Lead, Submission, Triage

log = logging.getLogger(__name__)


def process_lead(db: Database, settings: Settings, lead_id: uuid.UUID) -> list[int]:
    """Triage and plan a lead once, however often it is called; returns the ids of the messages
    due now, already claimed (queued) for the caller to hand to workers. Commits."""
    return [due.id for due in process_lead_routed(db, settings, lead_id)]


# The lead locked for processing, with its triage, the consent ledger's latest word per
# channel and whether a submitted event awaits processing; then its latest submission with the
# count of them. Built once (docs/performance.md).
_LEAD_FOR_PROCESSING = (
    select(
        Lead,
        *(
            latest_action(bindparam("lead_id"), channel).scalar_subquery()
            for channel in CHANNEL_KINDS
        ),
        outbox.pending(bindparam("lead_id")),
    )
    .where(Lead.id == bindparam("lead_id"))
    .options(joinedload(Lead.triage))
    .with_for_update(of=Lead)
)
_LATEST_SUBMISSION = (
    select(Submission, func.count().over())
    .where(Submission.lead_id == bindparam("lead_id"))
    .order_by(Submission.created_at.desc())
    .limit(1)
)


def process_lead_routed(
    db: Database, settings: Settings, lead_id: uuid.UUID
) -> list[scheduler.Due]:
    """process_lead, returning each due message with its channel (for the worker queue)."""
    now = utcnow()
    triaged: str | None = None
    with db.transaction() as session:
        # The row lock serialises two workers given the same lead (SQLite has one writer anyway).
        # Read with it: the triage (none yet on a first processing, a lazy load would ask) and
        # the consent ledger's latest word per channel, for the planning's contact policy.
        row = session.execute(_LEAD_FOR_PROCESSING, {"lead_id": lead_id}).first()
        if row is None:
            log.warning("lead %s not found; nothing to process", lead_id)
            return []
        lead, *actions, pending = row
        if lead.triage is not None and not pending:
            # Another copy of a task already done: the outbox sweep publishes an event again
            # when it was not processed in time, and the first copy may only have been waiting.
            log.info("lead %s already processed; nothing to do", lead_id)
            return []
        facts: Facts = {
            ("consent", channel): action == "opt_in"
            for channel, action in zip(CHANNEL_KINDS, actions, strict=True)
        }
        # The latest submission, and how many the lead has (a returning lead's team email).
        found = session.execute(_LATEST_SUBMISSION, {"lead_id": lead.id}).first()
        # None only for a lead whose submissions retention erased: it was triaged long ago.
        submission, submissions = (found[0], found[1]) if found is not None else (None, 0)
        if lead.triage is None:
            if submission is None:
                raise LookupError(f"lead {lead.id} has no submission to triage")
            result = triage.assess(
                submission.form, submission.answers, submission.message, lead.treatment_interest
            )
            lead.triage = _triage_row(submission.id, result, now)
            lead.priority = result.priority
            lead.urgent = lead.urgent or result.urgent
            triaged = "urgent" if lead.urgent else result.priority
        if lead.status != "spam":
            # The clinic settings once, for the routing hour and the first-contact clock.
            clinic = effective_clinic(session, settings)
            routing.route(session, lead, settings, now, clinic)
            escalation.start(session, lead, settings, now, clinic)
        if lead.status == "spam":
            # Stored so nothing is lost, sent nothing: un-spam queues it here again.
            log.info("lead %s is spam; nothing planned", lead.id)
        elif lead.urgent:
            # A person calls: the on-call clinician is paged and nothing is marketed.
            urgent.start(session, lead, settings, now)
        else:
            _watch_for_pumping(session, lead, settings, now)
            steps = sequences.steps_for(session, lead.treatment_interest)
            sequences.plan(session, lead, steps, settings, now, facts)
            if submission is not None:
                _announce_return(session, lead, submission.id, submissions, settings, now)
        outbox.mark_processed(session, lead.id, now)
        # Claim what is due now rather than waiting for the next scheduler tick (speed to
        # lead), in the same transaction: the messages are queued as they commit.
        ids = scheduler.claim_in(session, settings.delivery, lead_id)
    if triaged is not None:
        metrics.count_triage(triaged)  # the category only, counted once it is committed
    log.info("lead %s processed, %d messages due now", lead_id, len(ids))
    return ids


def _announce_return(
    session: Session,
    lead: Lead,
    latest: uuid.UUID,
    submissions: int,
    settings: Settings,
    now: dt.datetime,
) -> None:
    """A returning lead's new submission: the team hears of it (once per submission); the
    patient's welcome, planned once per lead, is not sent again."""
    if submissions > 1:
        step = sequences.Step("returning", "team", "email", "team_new_lead", occasion=str(latest))
        sequences.plan(session, lead, [step], settings, now)


def _watch_for_pumping(session: Session, lead: Lead, settings: Settings, now: dt.datetime) -> None:
    """Before planning texts: a surge to this lead's prefix pauses it, and the team hears once."""
    if pumping.watch(session, lead, settings, now):
        alert = sequences.Step("sms_paused", "team", "email", pumping.TEMPLATE)
        sequences.plan(session, lead, [alert], settings, now)


def _triage_row(submission_id: uuid.UUID, result: triage.Assessment, now: dt.datetime) -> Triage:
    """The triage as stored: every reason, flag and crisis match, with the rules' versions."""
    return Triage(
        submission_id=submission_id,
        created_at=now,
        rules_version=triage.RULES_VERSION,
        score=result.score,
        priority=result.priority,
        candidacy=result.candidacy,
        reasons=list(result.reasons),
        candidacies={
            service: {"level": c.level, "reasons": list(c.reasons)}
            for service, c in result.candidacies.items()
        },
        flags=[
            {"code": f.code, "services": list(f.services), "source": f.source} for f in result.flags
        ],
        crisis_version=result.crisis.version,
        crisis=[
            {"rule": m.rule, "category": m.category, "words": m.words, "negated": m.negated}
            for m in result.crisis.matches
        ],
    )
