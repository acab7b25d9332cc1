"""Deliver one message: claim it, re-check it, render it, send it, record what happened.

The claim is a compare-and-set on the status, committed before the provider is called, and
every later record of the outcome is conditional on still holding that claim (same status,
same attempt number). So two workers given the same id cannot both send, and a worker that
wakes up after its message was taken over cannot overwrite the newer truth.

A message a dead worker left in `sending` is put back in the queue with `needs_reconcile`, and
so is one whose send got no answer (a timeout after the request went out): before sending it
again, deliver() asks the provider whether it already has it, and adopts the provider's id if
so (docs/delivery-guarantees.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from intake_service import logs, metrics
from intake_service.channels import (
    CHANNEL_KINDS,
    Channel,
    OutgoingMessage,
    PermanentError,
    TransientError,
    get_channel,
    kind,
    pacing,
)
from intake_service.channels.pacing import pacer_for
from intake_service.config import DeliverySettings, Settings
from intake_service.db import Database, utcnow
from intake_service.domain.clinic_settings import effective_clinic
from intake_service.domain.compliance import text_volume
from intake_service.domain.compliance.consent import latest_action
from intake_service.domain.compliance.policy import ALLOWED, Decision, Facts, can_contact
from intake_service.domain.outreach import delivery_reports, envelope, failures, liveness, sequences
from intake_service.domain.templates import message_context
from intake_service.domain.templates.rendering import RenderError, render
from intake_service.domain.templates.versions import (
    TemplateMissing,
    as_source,
    message_locale,
    version_for,
)
from intake_service.models import DeliveryAttempt, InboundMessage, Lead, Message, MessageStatus
from intake_service.models.message import can_move_to

log = logging.getLogger(__name__)

# The outcome of a claim the contact policy only deferred: not a try, not counted as one.
DEFERRED = "deferred"
# A try the provider may have taken (no answer came): the next one reconciles before sending.
MAYBE_SENT = "maybe_sent"
# Provider clocks and ours differ a little: look this much further back than the lost attempt.
CLOCK_SLACK = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Outcome:
    status: str  # the message's status after this attempt, or "skipped"
    detail: str = ""


@dataclass(frozen=True)
class Claim:
    """What a worker holds while it sends: the message and the attempt number it claimed."""

    message_id: int
    attempt: int
    # When the lead was created, for the speed-to-lead metric (read with the lead, not again).
    lead_created_at: dt.datetime | None = None


def backoff(
    policy: DeliverySettings, attempts: int, retry_after: float | None = None
) -> dt.timedelta:
    """Exponential backoff with jitter, never sooner than the provider's Retry-After."""
    ceiling = min(policy.backoff_base * 2 ** max(0, attempts - 1), policy.backoff_cap)
    # Jitter spreads retries out after an outage; it needs no cryptographic randomness.
    seconds = random.uniform(ceiling / 2, ceiling)  # noqa: S311
    if retry_after is not None:
        seconds = max(seconds, retry_after)
    return dt.timedelta(seconds=seconds)


# The statements every delivery runs, built once with named parameters: building a statement
# costs more CPU than running it (docs/performance.md).
_CLAIM = (
    update(Message)
    .where(
        Message.id == bindparam("message_id"),
        Message.status.in_(can_move_to(MessageStatus.SENDING)),
        Message.due_at <= bindparam("now"),
    )
    .values(
        status=MessageStatus.SENDING,
        attempts=Message.attempts + 1,
        sending_started_at=bindparam("now"),
        updated_at=bindparam("now"),
        held_by=bindparam("holder"),
    )
    .returning(Message)
    # The row comes back from RETURNING: nothing in the session to bring up to date.
    .execution_options(synchronize_session=False)
)
_TEAM_LEAD = (
    select(Lead)
    .where(Lead.id == bindparam("lead_id"))
    .options(joinedload(Lead.triage), joinedload(Lead.assignee))
)
_PATIENT_LEAD = {
    channel: select(Lead, latest_action(bindparam("lead_id"), channel).scalar_subquery()).where(
        Lead.id == bindparam("lead_id")
    )
    for channel in CHANNEL_KINDS
}
# Conditional on still holding the claim (the compare-and-set of _held, in the UPDATE itself):
# sending -> sent, recorded in one statement without reading the row first.
_RECORD_SENT = (
    update(Message)
    .where(
        Message.id == bindparam("message_id"),
        Message.status == MessageStatus.SENDING,
        Message.attempts == bindparam("attempt"),
    )
    .values(
        status=MessageStatus.SENT,
        provider_id=bindparam("sid"),
        sent_at=bindparam("now"),
        last_error=None,
        needs_reconcile=False,
        updated_at=bindparam("now"),
    )
    .returning(Message)
    # The row comes back from RETURNING: nothing in the session to bring up to date.
    .execution_options(synchronize_session=False)
)


def _claim(session: Session, message_id: int, now: dt.datetime) -> Message | None:
    """The message, claimed for this attempt (compare-and-set), or None if it is not ours.

    RETURNING hands back the claimed row, so the claim is also the read of it. Whose it is
    goes with it: if this process stops beating, the scheduler takes it over at once.
    """
    params = {"message_id": message_id, "now": now, "holder": liveness.holder()}
    return session.scalars(_CLAIM, params).first()


def _held(session: Session, claim: Claim) -> Message | None:
    """The message, if this worker's claim on it still stands (locked for the update)."""
    message = session.get(Message, claim.message_id, with_for_update=True)
    if (
        message is None
        or message.status != MessageStatus.SENDING
        or message.attempts != claim.attempt
    ):
        log.warning(
            "message %s was taken over while attempt %d ran", claim.message_id, claim.attempt
        )
        return None
    return message


def _lead_of(session: Session, message: Message) -> Lead | None:
    """The lead a message is about; None for a page about a text from a number no lead gave."""
    return session.get_one(Lead, message.lead_id) if message.lead_id is not None else None


def _lead_for_sending(session: Session, message: Message) -> tuple[Lead | None, Facts]:
    """The message's lead, read with what sending it needs in the same query: for the team,
    the triage and the assignee its email names; for the patient, the consent ledger's latest
    word on the channel, handed to the contact policy as a fact it need not read again."""
    if message.lead_id is None:
        return None, {}
    params = {"lead_id": message.lead_id}
    if message.audience == "team":
        return session.scalars(_TEAM_LEAD, params).one(), {}
    lead, action = session.execute(_PATIENT_LEAD[message.channel], params).one()
    return lead, {("consent", message.channel): action == "opt_in"}


def _decide(
    session: Session,
    message: Message,
    lead: Lead | None,
    now: dt.datetime,
    facts: Facts | None = None,
) -> Decision:
    """The contact policy's word on this message, asked at send time: the world may have changed."""
    if lead is None:
        # A page about a text no lead sent: to staff, so no rule about a patient applies.
        if message.audience == "team":
            return ALLOWED
        return Decision(False, "no_lead")
    purpose = sequences.purpose_of(lead, message.audience, message.step_key)
    return can_contact(session, lead, message.channel, purpose, now, facts)


def _context(
    session: Session,
    message: Message,
    lead: Lead | None,
    settings: Settings,
    now: dt.datetime,
    locale: str,
) -> dict[str, Any]:
    # The clinic as an admin set it (name, phone, zone, what the team email may carry).
    profile = effective_clinic(session, settings)
    if lead is None:
        inbound = session.get_one(InboundMessage, message.inbound_message_id)
        return message_context.text_context(inbound, settings, now, profile)
    if message_context.audience(message.template_key) == "team":
        return message_context.team_context(
            session, lead, settings, now, message.recipient, profile
        )
    # The words for the lead's choices follow the version's language, not the lead's.
    return message_context.patient_context(lead, settings, profile, locale)


def _render(
    session: Session, message: Message, lead: Lead | None, settings: Settings, now: dt.datetime
) -> OutgoingMessage:
    # A patient's message in the lead's language where that template exists, else English.
    locale = message_locale(message.template_key, lead.locale if lead else None)
    version = version_for(session, message.template_key, message.channel, locale)
    context = _context(session, message, lead, settings, now, version.template.locale)
    rendered = render(as_source(version), context)
    message.template_version_id = version.id
    message.subject = rendered.subject
    message.body_text = rendered.body_text
    envelope.record_length(message)
    return OutgoingMessage(
        message_id=message.id,
        channel=message.channel,
        recipient=message.recipient,
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        **envelope.extras(message, settings),
    )


@dataclass(frozen=True)
class Lost:
    """A send a dead worker may have completed: what to look for, and since when."""

    message: OutgoingMessage
    since: dt.datetime
    template_version_id: int | None


def _lost_send(session: Session, message: Message) -> Lost | None:
    """The message as the dead worker was sending it, or None if nothing can have gone out."""
    if message.body_text is None:
        return None  # it died before rendering
    first_lost = session.scalar(
        select(func.min(DeliveryAttempt.started_at)).where(
            DeliveryAttempt.message_id == message.id,
            DeliveryAttempt.outcome.in_(("abandoned", MAYBE_SENT)),
        )
    )
    since = (first_lost or message.created_at) - CLOCK_SLACK
    outgoing = OutgoingMessage(
        message_id=message.id,
        channel=message.channel,
        recipient=message.recipient,
        subject=message.subject,
        body_text=message.body_text,
    )
    return Lost(outgoing, since, message.template_version_id)


def deliver(db: Database, settings: Settings, message_id: int) -> Outcome:
    """Send one due message if it is still sendable; safe to call any number of times. Commits."""
    now = utcnow()
    with db.transaction() as session:
        message = _claim(session, message_id, now)
        if message is None:
            return Outcome("skipped", "not due, or not in a sendable state")
        logs.bind_lead(message.lead_id)
        session.add(DeliveryAttempt(message_id=message_id, number=message.attempts, started_at=now))
        lead, facts = _lead_for_sending(session, message)
        claim = Claim(message_id, message.attempts, lead.created_at if lead is not None else None)
        lost = _lost_send(session, message) if message.needs_reconcile else None
        # A lost send is looked for at the provider first: if it went out, it is sent,
        # whatever changed since; only if it did not do the send-time checks apply.
        if lost is None:
            stopped = _stop_if_unwanted(session, claim, message, lead, settings, now, facts)
            if stopped is not None:
                return stopped
        try:
            outgoing = _render(session, message, lead, settings, now)
        except (TemplateMissing, RenderError) as error:
            # Nothing but an admin can fix this; keep it visible as a failure.
            log.error("message %s failed to render: %s", message_id, type(error).__name__)
            message.transition(MessageStatus.FAILED)
            message.last_error = f"template: {error}"
            message.failed_at = now
            _finish_attempt(session, claim, "permanent", "template")
            metrics.count_attempt(message.channel, "render_failed")
            failures.after_failure(session, message, lead, settings, now)
            return Outcome(MessageStatus.FAILED, "template")

    channel = get_channel(outgoing.channel, settings, db)
    try:
        liveness.check_fresh(settings.delivery.worker_dead_after)
        if lost is not None:
            adopted = _reconcile(channel, lost)
            if adopted is not None:
                return _record_sent(db, settings, claim, adopted, lost=lost)
            with db.transaction() as session:
                held = _held(session, claim)
                if held is None:
                    return Outcome("skipped", "taken over")
                lead = _lead_of(session, held)
                stopped = _stop_if_unwanted(session, claim, held, lead, settings, utcnow())
                if stopped is not None:
                    return stopped
        paced = kind(outgoing.channel).paced_per_sender
        pacer = pacer_for(settings.delivery.sms_pace) if paced else None
        token = ""
        if pacer is not None:
            token = _wait_for_pace(db, claim, pacer)
            if not token:
                return Outcome(MessageStatus.PLANNED, "paced")
        try:
            provider_id = channel.send(outgoing)
        finally:
            if pacer is not None:
                pacer.answered(token)
    except TransientError as error:
        return _record_transient(db, settings, claim, error)
    except PermanentError as error:
        return _record_permanent(db, settings, claim, error)
    return _record_sent(db, settings, claim, provider_id)


def _stop_if_unwanted(
    session: Session,
    claim: Claim,
    message: Message,
    lead: Lead | None,
    settings: Settings,
    now: dt.datetime,
    facts: Facts | None = None,
) -> Outcome | None:
    """Defer, cancel or suppress a message that must not go out now (not committed)."""
    decision = _decide(session, message, lead, now, facts)
    if decision.allowed:
        return None
    if decision.not_before is not None:
        # Allowed later (quiet hours): back to the schedule, due when the policy allows it.
        message.transition(MessageStatus.PLANNED)
        message.due_at = decision.not_before
        _finish_attempt(session, claim, DEFERRED, decision.reason)
        metrics.count_attempt(message.channel, DEFERRED)
        log.info("message %s deferred (%s)", claim.message_id, decision.reason)
        return Outcome(MessageStatus.PLANNED, decision.reason)
    status = MessageStatus.CANCELLED if decision.cancel else MessageStatus.SUPPRESSED
    message.transition(status)
    message.last_error = decision.reason
    _finish_attempt(session, claim, status.value, decision.reason)
    metrics.count_attempt(message.channel, status.value)
    failures.after_suppression(session, message, lead, settings, now, decision)
    return Outcome(status, decision.reason)


def _wait_for_pace(db: Database, claim: Claim, pacer: pacing.Pacer) -> str:
    """The gate's token once the sender's rate lets this text go now; else "" and the text is
    re-planned (committed).

    A gate shut for less than one slot (the text before ran a little late) is waited out here;
    a longer wait goes back to the database, due when the gate opens, and the claim above stays
    the only way to the provider, so a paced text is never sent twice.
    """
    wait, token = pacer.acquire()
    if 0 < wait <= pacing.spacing(pacer.rate):
        time.sleep(wait)
        wait, token = pacer.acquire()
    if token:
        return token
    with db.transaction() as session:
        message = _held(session, claim)
        if message is not None:
            message.transition(MessageStatus.PLANNED)
            message.due_at = utcnow() + dt.timedelta(seconds=wait)
            _finish_attempt(session, claim, DEFERRED, "paced")
    log.info("message %s paced for %.2f s", claim.message_id, wait)
    return ""


def _reconcile(channel: Channel, lost: Lost) -> str | None:
    """Ask the provider for the message a dead worker was sending. Raises TransientError."""
    provider_id = channel.find_existing(lost.message, since=lost.since)
    if provider_id is not None:
        log.info("message %s was already at the provider; adopting it", lost.message.message_id)
    return provider_id


def finish_attempt(
    session: Session,
    message_id: int,
    number: int,
    outcome: str,
    detail: str | None,
    provider_id: str | None = None,
) -> None:
    """Close an open attempt row with its outcome (not committed)."""
    params = {
        "of_message": message_id,
        "of_number": number,
        "finished": utcnow(),
        "ended_as": outcome,
        "why": detail,
        "sid": provider_id,
    }
    session.execute(_FINISH_ATTEMPT, params)


_FINISH_ATTEMPT = (
    update(DeliveryAttempt)
    .where(
        DeliveryAttempt.message_id == bindparam("of_message"),
        DeliveryAttempt.number == bindparam("of_number"),
        DeliveryAttempt.outcome.is_(None),
    )
    # Parameters named apart from the columns: an UPDATE keeps those names for its SET.
    .values(
        finished_at=bindparam("finished"),
        outcome=bindparam("ended_as"),
        detail=bindparam("why"),
        provider_id=bindparam("sid"),
    )
    # Nothing reads the attempt's row again in the session that closes it.
    .execution_options(synchronize_session=False)
)


def _finish_attempt(
    session: Session, claim: Claim, outcome: str, detail: str | None, provider_id: str | None = None
) -> None:
    finish_attempt(session, claim.message_id, claim.attempt, outcome, detail, provider_id)


def _record_sent(
    db: Database, settings: Settings, claim: Claim, provider_id: str, lost: Lost | None = None
) -> Outcome:
    adopted = lost is not None
    now = utcnow()
    # Keep what actually went out, not this attempt's fresh rendering.
    went_out = (
        {
            "subject": lost.message.subject,
            "body_text": lost.message.body_text,
            "template_version_id": lost.template_version_id,
        }
        if lost is not None
        else {}
    )
    record = _RECORD_SENT.values(**went_out) if went_out else _RECORD_SENT
    params = {
        "message_id": claim.message_id,
        "attempt": claim.attempt,
        "sid": provider_id,
        "now": now,
    }
    with db.transaction() as session:
        message = session.scalars(record, params).first()
        if message is None:
            log.warning(
                "message %s was taken over while attempt %d ran", claim.message_id, claim.attempt
            )
            return Outcome("skipped", "taken over")
        _finish_attempt(session, claim, "adopted" if adopted else "sent", None, provider_id)
        sent_kind = kind(message.channel)
        metrics.count_sent(
            message,
            "adopted" if adopted else "sent",
            now,
            lead_created_at=claim.lead_created_at,
            team_inbox=sent_kind.reaches_team,
        )
        if sent_kind.reports_delivery:
            # Delivery reports that beat this record of the SID wait for it: apply them now.
            delivery_reports.apply_pending(session, settings, message, now)
        if text_volume.counted(message):
            # Last: its row is the hottest lock of this transaction (text_volume's note).
            text_volume.count_taken(session, message.recipient, now)
    log.info(
        "message %s %s via %s", claim.message_id, "adopted" if adopted else "sent", message.channel
    )
    return Outcome(MessageStatus.SENT, provider_id)


def _record_transient(
    db: Database, settings: Settings, claim: Claim, error: TransientError
) -> Outcome:
    policy = settings.delivery
    now = utcnow()
    with db.transaction() as session:
        message = _held(session, claim)
        if message is None:
            return Outcome("skipped", "taken over")
        message.last_error = error.reason
        _finish_attempt(
            session, claim, MAYBE_SENT if error.maybe_sent else "transient", error.reason
        )
        if error.maybe_sent:
            # The provider may hold it (a timeout after the request went out): ask before resending.
            message.needs_reconcile = True
        # Age counts from the first try since the last operator retry, not from planning:
        # a day-7 follow-up was planned a week before it was ever due. A claim the contact
        # policy deferred (quiet hours) was no try at all.
        first_try, counted = session.execute(
            select(func.min(DeliveryAttempt.started_at), func.count()).where(
                DeliveryAttempt.message_id == message.id,
                DeliveryAttempt.number > message.retry_base,
                or_(DeliveryAttempt.outcome.is_(None), DeliveryAttempt.outcome != DEFERRED),
            )
        ).one()
        too_old = now - (first_try or now) > dt.timedelta(seconds=policy.max_age)
        tries = int(counted)
        if tries >= policy.max_attempts or too_old:
            message.transition(MessageStatus.FAILED)
            message.failed_at = now
            message.last_error = f"gave up after {tries} attempts: {error.reason}"
            log.warning("message %s failed after %d attempts", claim.message_id, message.attempts)
            metrics.count_attempt(message.channel, "gave_up")
            failures.after_failure(session, message, _lead_of(session, message), settings, now)
            return Outcome(MessageStatus.FAILED, error.reason)
        # Back to the schedule, not to the broker: the wait lives in the database.
        message.transition(MessageStatus.PLANNED)
        message.due_at = now + backoff(policy, tries, error.retry_after)
        metrics.count_attempt(message.channel, "retry")
    log.info("message %s will be retried (%s)", claim.message_id, error.reason)
    return Outcome(MessageStatus.PLANNED, error.reason)


def _record_permanent(
    db: Database, settings: Settings, claim: Claim, error: PermanentError
) -> Outcome:
    now = utcnow()
    reason = error.reason
    with db.transaction() as session:
        message = _held(session, claim)
        if message is None:
            return Outcome("skipped", "taken over")
        message.transition(MessageStatus.FAILED)
        message.last_error = reason
        message.failed_at = now
        _finish_attempt(session, claim, "permanent", reason)
        metrics.count_attempt(message.channel, "permanent")
        lead = _lead_of(session, message)
        if error.unusable is not None and lead is not None:
            failures.mark_contact_point(session, message, lead, error.unusable, now)
        failures.after_failure(session, message, lead, settings, now)
    log.warning("message %s failed permanently (%s)", claim.message_id, reason)
    return Outcome(MessageStatus.FAILED, reason)
